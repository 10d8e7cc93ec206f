#include "cli/schedule.hpp"

#include <array>

#include "core/duration.hpp"

namespace probe {

namespace {

using std::chrono::seconds;

constexpr long long k_minute = 60;
constexpr long long k_hour = 3600;
constexpr long long k_day = 86400;
constexpr long long k_week = 7 * k_day;

// The intervals, in minutes and in hours, that repeat evenly within an hour and within a day.
constexpr std::array<long long, 11> k_minute_divisors = {1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30};
constexpr std::array<long long, 7> k_hour_divisors = {1, 2, 3, 4, 6, 8, 12};

template <std::size_t N>
bool contains(const std::array<long long, N>& values, long long value) {
  for (const long long candidate : values) {
    if (candidate == value) {
      return true;
    }
  }
  return false;
}

bool is_safe(char c, std::string_view extra) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_@+=:,./-").find(c) != std::string_view::npos || extra.find(c) != std::string_view::npos;
}

std::string joined(const std::vector<std::string>& argv, std::string (*quote)(std::string_view)) {
  std::string out;
  for (const std::string& arg : argv) {
    out += (out.empty() ? "" : " ") + quote(arg);
  }
  return out;
}

}  // namespace

std::optional<std::string> cron_fields(seconds every) {
  const long long s = every.count();
  if (s <= 0 || s % k_minute != 0) {
    return std::nullopt;
  }
  if (s < k_hour && contains(k_minute_divisors, s / k_minute)) {
    return s == k_minute ? "* * * * *" : "*/" + std::to_string(s / k_minute) + " * * * *";
  }
  if (s % k_hour == 0 && s < k_day && contains(k_hour_divisors, s / k_hour)) {
    return s == k_hour ? "0 * * * *" : "0 */" + std::to_string(s / k_hour) + " * * *";
  }
  if (s == k_day) {
    return "0 0 * * *";
  }
  if (s == k_week) {
    return "0 0 * * 0";
  }
  return std::nullopt;
}

std::string cron_intervals() {
  std::string minutes;
  for (const long long m : k_minute_divisors) {
    minutes += (minutes.empty() ? "" : " ") + std::to_string(m) + "m";
  }
  std::string hours;
  for (const long long h : k_hour_divisors) {
    hours += (hours.empty() ? "" : " ") + std::to_string(h) + "h";
  }
  return minutes + ", " + hours + ", 1d or 7d";
}

std::string shell_quote(std::string_view arg) {
  bool safe = !arg.empty();
  for (const char c : arg) {
    safe = safe && is_safe(c, "%");
  }
  if (safe) {
    return std::string(arg);
  }
  std::string out = "'";
  for (const char c : arg) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::string systemd_quote(std::string_view arg) {
  bool safe = !arg.empty();
  for (const char c : arg) {
    safe = safe && is_safe(c, "%$");
  }
  std::string out = safe ? "" : "\"";
  for (const char c : arg) {
    if (c == '%' || c == '$') {
      out += std::string(2, c);
    } else if (!safe && (c == '"' || c == '\\')) {
      out += std::string("\\") + c;
    } else {
      out += c;
    }
  }
  return safe ? out : out + "\"";
}

std::string crontab_line(const std::string& fields, const std::vector<std::string>& argv) {
  std::string command;
  for (const char c : joined(argv, &shell_quote)) {
    command += c == '%' ? std::string("\\%") : std::string(1, c);
  }
  return fields + " " + command + " >/dev/null";
}

std::string service_unit(const std::vector<std::string>& argv) {
  return "# Written by `probe schedule`: one measurement run, started by probe.timer.\n"
         "[Unit]\n"
         "Description=probe: one network reachability measurement\n"
         "Wants=network-online.target\n"
         "After=network-online.target\n"
         "\n"
         "[Service]\n"
         "# A oneshot service stays active until the run ends, and a timer does not start a unit that\n"
         "# is still active: runs never overlap, however long one takes.\n"
         "Type=oneshot\n"
         "ExecStart=" +
         joined(argv, &systemd_quote) +
         "\n"
         "# A run stopped by SIGTERM (systemctl stop, shutdown) exits 143 after writing what it\n"
         "# measured: not a failure of the unit.\n"
         "SuccessExitStatus=143\n";
}

std::string timer_unit(seconds every, seconds jitter) {
  std::string trigger;
  const long long s = every.count();
  if (cron_fields(every)) {
    std::string calendar;
    if (s < k_hour) {
      calendar = s == k_minute ? "*-*-* *:*:00" : "*-*-* *:00/" + std::to_string(s / k_minute) + ":00";
    } else if (s < k_day) {
      calendar = s == k_hour ? "*-*-* *:00:00" : "*-*-* 00/" + std::to_string(s / k_hour) + ":00:00";
    } else if (s == k_day) {
      calendar = "*-*-* 00:00:00";
    } else {
      calendar = "Sun *-*-* 00:00:00";
    }
    trigger = "OnCalendar=" + calendar +
              "\n"
              "# A start missed while the machine was off happens at the next boot.\n"
              "Persistent=true\n";
  } else {
    // An interval that does not divide a day has no calendar form: count from the last start.
    trigger = "OnBootSec=5min\n"
              "OnUnitActiveSec=" +
              format_systemd_span(every) + "\n";
  }
  if (jitter.count() > 0) {
    trigger += "# Each start waits a random time up to this, so that runs do not all start on the hour.\n"
               "RandomizedDelaySec=" +
               format_systemd_span(jitter) + "\n";
  }
  return "# Written by `probe schedule`: starts probe.service every " + format_duration(every) +
         ".\n"
         "[Unit]\n"
         "Description=probe: a network reachability measurement every " +
         format_duration(every) +
         "\n"
         "\n"
         "[Timer]\n" +
         trigger +
         "\n"
         "[Install]\n"
         "WantedBy=timers.target\n";
}

}  // namespace probe
