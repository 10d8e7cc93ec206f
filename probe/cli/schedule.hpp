#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace probe {

// What `probe schedule` writes, as text: pure functions of the interval, the jitter and the command
// (the binary's absolute path and its arguments, unquoted). The command-line side is schedule_cmd.cpp.

// The five time fields of a crontab line that runs every `every`, starting on the hour or at
// midnight: a divisor of an hour ("*/15 * * * *"), of a day ("0 */6 * * *"), a day ("0 0 * * *")
// or a week ("0 0 * * 0"). nullopt for any other interval: cron cannot run it evenly (45m would
// run at :00, :45, then :00 again).
std::optional<std::string> cron_fields(std::chrono::seconds every);

// What cron_fields accepts, for messages.
std::string cron_intervals();

// `argv` as one crontab line: the fields, the command quoted for /bin/sh with every `%` escaped
// (cron turns a bare `%` into a newline), and stdout sent to /dev/null: cron mails what a command
// prints, and a run prints its report's path every time. stderr stays, so errors reach the owner.
std::string crontab_line(const std::string& fields, const std::vector<std::string>& argv);

// probe.service: Type=oneshot, ExecStart= `argv`, SuccessExitStatus=143.
std::string service_unit(const std::vector<std::string>& argv);

// probe.timer: OnCalendar= for the intervals cron_fields accepts (with Persistent=true: a start
// missed while the machine was off happens at the next boot), else OnBootSec= and
// OnUnitActiveSec=; RandomizedDelaySec= when `jitter` is not zero.
std::string timer_unit(std::chrono::seconds every, std::chrono::seconds jitter);

// One argument for /bin/sh: as is when it holds only characters the shell leaves alone, else in
// single quotes.
std::string shell_quote(std::string_view arg);

// One argument for a systemd Exec line (systemd.service(5), "Command lines"): `%` and `$` doubled
// (specifiers and variables), and double quotes around anything else than safe characters.
std::string systemd_quote(std::string_view arg);

}  // namespace probe
