package ca

import (
	"fmt"
	"strings"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// weekdays in schedule order; a day range runs forward through this list and may wrap.
var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// ScheduleSyntax documents what ParseSchedule accepts.
const ScheduleSyntax = `"DAYS HH:MM-HH:MM ZONE": DAYS is "daily" or a comma-separated list of days ` +
	`(mon tue wed thu fri sat sun) and day ranges ("mon-fri", "fri-mon" wraps); the window ` +
	`wraps past midnight when the end is before the start ("22:00-06:00"); ZONE is an IANA ` +
	`time zone ("Europe/Paris", "UTC"). Example: "mon-fri 08:00-18:00 Europe/Paris"`

// ParseSchedule parses the strict schedule syntax, exactly three space-separated fields:
//
//	DAYS FROM-TO ZONE
//	DAYS  = "daily" | SPEC ("," SPEC)*   SPEC = DAY | DAY "-" DAY
//	DAY   = mon | tue | wed | thu | fri | sat | sun   (lower case)
//	FROM, TO = HH:MM in 00:00-23:59, FROM != TO (TO < FROM wraps past midnight)
//	ZONE  = an IANA time zone name ("Local" is refused: it means nothing on another machine)
//
// "mon-fri 08:00-18:00 Europe/Paris", "sat,sun 10:00-12:00 UTC", "daily 22:00-06:00 UTC".
// A range runs forward and may wrap ("fri-mon" = fri, sat, sun, mon); a day may not be
// named twice. Days come out in week order; "daily" gives no days (every day).
func ParseSchedule(s string) (*certattrs.Schedule, error) {
	fields := strings.Split(s, " ")
	if len(fields) != 3 || fields[0] == "" || fields[1] == "" || fields[2] == "" {
		return nil, fmt.Errorf("%q: want \"DAYS HH:MM-HH:MM ZONE\", e.g. \"mon-fri 08:00-18:00 Europe/Paris\"", s)
	}
	days, err := parseDays(fields[0])
	if err != nil {
		return nil, fmt.Errorf("%q: days: %w", s, err)
	}
	from, to, ok := strings.Cut(fields[1], "-")
	if !ok {
		return nil, fmt.Errorf("%q: hours %q: want HH:MM-HH:MM", s, fields[1])
	}
	for _, hm := range []string{from, to} {
		if err := checkHHMM(hm); err != nil {
			return nil, fmt.Errorf("%q: hours: %w", s, err)
		}
	}
	if from == to {
		return nil, fmt.Errorf("%q: hours: empty window %s-%s (use 00:00-23:59 for the whole day)", s, from, to)
	}
	zone := fields[2]
	if zone == "Local" {
		return nil, fmt.Errorf("%q: zone: \"Local\" is not portable, name an IANA zone", s)
	}
	if _, err := time.LoadLocation(zone); err != nil {
		return nil, fmt.Errorf("%q: zone %q: unknown IANA time zone", s, zone)
	}
	return &certattrs.Schedule{TZ: zone, Days: days, From: from, To: to}, nil
}

func parseDays(s string) ([]string, error) {
	if s == "daily" {
		return nil, nil
	}
	var seen [7]bool
	for _, spec := range strings.Split(s, ",") {
		first, last, isRange := strings.Cut(spec, "-")
		a, b := dayIndex(first), dayIndex(last)
		if !isRange {
			b = a
		}
		if a < 0 || b < 0 {
			return nil, fmt.Errorf("%q: want \"daily\" or days like mon-fri or sat,sun", spec)
		}
		for i := a; ; i = (i + 1) % 7 {
			if seen[i] {
				return nil, fmt.Errorf("%s named twice", weekdays[i])
			}
			seen[i] = true
			if i == b {
				break
			}
		}
	}
	var days []string
	for i, ok := range seen {
		if ok {
			days = append(days, weekdays[i])
		}
	}
	return days, nil
}

func dayIndex(s string) int {
	for i, d := range weekdays {
		if s == d {
			return i
		}
	}
	return -1
}

func checkHHMM(s string) error {
	if len(s) != 5 || s[2] != ':' {
		return fmt.Errorf("%q: want HH:MM", s)
	}
	t, err := time.Parse("15:04", s)
	if err != nil || t.Format("15:04") != s {
		return fmt.Errorf("%q: want HH:MM between 00:00 and 23:59", s)
	}
	return nil
}

// FormatSchedule writes s in ParseSchedule's syntax, folding runs of days into ranges.
func FormatSchedule(s *certattrs.Schedule) string {
	if s == nil {
		return ""
	}
	return formatDays(s.Days) + " " + s.From + "-" + s.To + " " + s.TZ
}

func formatDays(days []string) string {
	if len(days) == 0 {
		return "daily"
	}
	var in [7]bool
	for _, d := range days {
		if i := dayIndex(d); i >= 0 {
			in[i] = true
		} else {
			return strings.Join(days, ",") // not ours; show as is
		}
	}
	var parts []string
	for i := 0; i < 7; {
		if !in[i] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && in[j+1] {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, weekdays[i])
		case j == i+1:
			parts = append(parts, weekdays[i], weekdays[j])
		default:
			parts = append(parts, weekdays[i]+"-"+weekdays[j])
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
