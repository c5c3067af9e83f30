package sleep

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	// The IANA time zone database, built in: the manager's image and the
	// machines kubectl blueprint validate runs on may have none.
	_ "time/tzdata"
)

// Schedule is a parsed spec.sleep.uptime: the weekly ranges during which an
// environment is up, in kube-downscaler's format.
type Schedule struct {
	text   string
	ranges []weeklyRange
}

// weeklyRange is one DAY-DAY HH:MM-HH:MM TIMEZONE range: the days from
// fromDay to toDay (wrapping past Sunday when fromDay > toDay), from minute
// fromMin (inclusive) to toMin (exclusive) of the local day.
type weeklyRange struct {
	fromDay, toDay time.Weekday
	fromMin, toMin int
	loc            *time.Location
}

var weekdays = map[string]time.Weekday{
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
}

// ParseUptime parses kube-downscaler's uptime format: comma-separated
// ranges DAY-DAY HH:MM-HH:MM TIMEZONE, for example "Mon-Fri 08:00-20:00
// Europe/Berlin". Day names are the first three letters of an English
// weekday, in any case, as kube-downscaler reads them; the time zone is an
// IANA name. Unlike kube-downscaler, which accepts a time range that ends
// before it starts and then never matches it, such a range is an error.
// The error names the text.
func ParseUptime(text string) (*Schedule, error) {
	s := &Schedule{text: text}
	for part := range strings.SplitSeq(text, ",") {
		r, err := parseRange(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("sleep.uptime %q: %w", text, err)
		}
		s.ranges = append(s.ranges, r)
	}
	return s, nil
}

func parseRange(part string) (weeklyRange, error) {
	fields := strings.Fields(part)
	if len(fields) != 3 {
		return weeklyRange{}, fmt.Errorf("%q is not DAY-DAY HH:MM-HH:MM TIMEZONE", part)
	}
	from, to, ok := strings.Cut(fields[0], "-")
	fromDay, okFrom := weekdays[strings.ToLower(from)]
	toDay, okTo := weekdays[strings.ToLower(to)]
	if !ok || !okFrom || !okTo {
		return weeklyRange{}, fmt.Errorf("%q is not a day range such as Mon-Fri", fields[0])
	}
	start, end, ok := strings.Cut(fields[1], "-")
	fromMin, errFrom := parseClock(start)
	toMin, errTo := parseClock(end)
	if !ok || errFrom != nil || errTo != nil || fromMin == 24*60 {
		return weeklyRange{}, fmt.Errorf("%q is not a time range such as 08:00-20:00", fields[1])
	}
	if toMin <= fromMin {
		return weeklyRange{}, fmt.Errorf("time range %s does not end after it starts; a range past midnight is two ranges, such as Mon-Fri 22:00-24:00 and Tue-Sat 00:00-06:00", fields[1])
	}
	if fields[2] == "Local" {
		// time.LoadLocation reads "Local" as the manager's own zone.
		return weeklyRange{}, fmt.Errorf("unknown time zone %q", fields[2])
	}
	loc, err := time.LoadLocation(fields[2])
	if err != nil {
		return weeklyRange{}, fmt.Errorf("unknown time zone %q", fields[2])
	}
	return weeklyRange{fromDay: fromDay, toDay: toDay, fromMin: fromMin, toMin: toMin, loc: loc}, nil
}

// parseClock reads HH:MM as minutes of the day, 24:00 included.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("not HH:MM")
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("not HH:MM")
	}
	return hh*60 + mm, nil
}

// String is the text the schedule was parsed from.
func (s *Schedule) String() string { return s.text }

// Up reports whether t falls in one of the ranges, read on the wall clock of
// the range's time zone (as kube-downscaler does): across a daylight-saving
// change a range starts and ends at the same local time, so at a different
// UTC time.
func (s *Schedule) Up(t time.Time) bool {
	for _, r := range s.ranges {
		local := t.In(r.loc)
		day := local.Weekday()
		var dayMatches bool
		if r.fromDay <= r.toDay {
			dayMatches = r.fromDay <= day && day <= r.toDay
		} else {
			dayMatches = day >= r.fromDay || day <= r.toDay
		}
		minute := local.Hour()*60 + local.Minute()
		if dayMatches && r.fromMin <= minute && minute < r.toMin {
			return true
		}
	}
	return false
}

// horizon is how far NextChange and LastChange look: a weekly schedule
// changes within a week, or never.
const horizon = 8 * 24 * time.Hour

// NextChange is the first minute after t at which Up differs from Up(t);
// zero when it does not change within a week (a schedule that is always or
// never up). Ranges are in whole minutes of the local clock and every time
// zone's offset is a whole number of minutes, so stepping through whole UTC
// minutes finds every change.
func (s *Schedule) NextChange(t time.Time) time.Time {
	up := s.Up(t)
	for m := t.Truncate(time.Minute).Add(time.Minute); m.Sub(t) <= horizon; m = m.Add(time.Minute) {
		if s.Up(m) != up {
			return m
		}
	}
	return time.Time{}
}

// LastChange is the latest minute at or before t at which Up became what
// Up(t) is; zero when it has been so for a week.
func (s *Schedule) LastChange(t time.Time) time.Time {
	up := s.Up(t)
	m := t.Truncate(time.Minute)
	for ; t.Sub(m) <= horizon; m = m.Add(-time.Minute) {
		if s.Up(m.Add(-time.Minute)) != up {
			return m
		}
	}
	return time.Time{}
}
