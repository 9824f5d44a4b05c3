package certattrs

import (
	"fmt"
	"sync"
	"time"
	_ "time/tzdata" // schedules must validate the same on hosts without /usr/share/zoneinfo
)

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} // by time.Weekday

// compiledSchedule is a Schedule parsed for evaluation.
type compiledSchedule struct {
	loc      *time.Location
	days     [7]bool // by time.Weekday
	from, to int     // minutes since local midnight
}

// locations caches time.LoadLocation, which reads and parses the zone data on every call.
// Only successful loads are cached, so the cache holds at most the IANA names.
var locations sync.Map // string -> *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// compile checks the schedule; errors name fields under path.
func (s *Schedule) compile(path string) (compiledSchedule, error) {
	var c compiledSchedule
	switch s.TZ {
	case "":
		return c, fieldErr(join(path, "tz"), "missing")
	case "Local":
		// time.Local differs from host to host; a grant must mean one thing.
		return c, fieldErr(join(path, "tz"), `"Local" is not allowed (want an IANA name such as "Europe/Paris")`)
	}
	loc, err := loadLocation(s.TZ)
	if err != nil {
		return c, fieldErr(join(path, "tz"), fmt.Sprintf("unknown time zone %q", s.TZ))
	}
	c.loc = loc
	if len(s.Days) == 0 {
		c.days = [7]bool{true, true, true, true, true, true, true}
	}
	for i, d := range s.Days {
		wd := -1
		for j, n := range dayNames {
			if d == n {
				wd = j
			}
		}
		if wd < 0 {
			return c, fieldErr(index(join(path, "days"), i), fmt.Sprintf("unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", d))
		}
		if c.days[wd] {
			return c, fieldErr(index(join(path, "days"), i), fmt.Sprintf("duplicate day %q", d))
		}
		c.days[wd] = true
	}
	if c.from, err = parseClock(join(path, "from"), s.From); err != nil {
		return c, err
	}
	if c.to, err = parseClock(join(path, "to"), s.To); err != nil {
		return c, err
	}
	if c.from == c.to {
		return c, fieldErr(join(path, "to"), fmt.Sprintf("%q equals from (an empty window)", s.To))
	}
	return c, nil
}

// parseClock parses "HH:MM", 00:00 to 23:59, into minutes since midnight.
func parseClock(path, s string) (int, error) {
	if s == "" {
		return 0, fieldErr(path, "missing")
	}
	bad := fieldErr(path, fmt.Sprintf("invalid time %q (want HH:MM, 00:00 to 23:59)", s))
	if len(s) != 5 || s[2] != ':' {
		return 0, bad
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, bad
	}
	return h*60 + m, nil
}

// allows evaluates the schedule at lt, a time in c.loc.
func (c *compiledSchedule) allows(lt time.Time) bool {
	m := lt.Hour()*60 + lt.Minute()
	wd := lt.Weekday()
	switch {
	case c.from < c.to:
		return c.days[wd] && c.from <= m && m < c.to
	case m >= c.from:
		return c.days[wd]
	case m < c.to:
		// After midnight in a window that wraps: the day is the one the window started.
		return c.days[(wd+6)%7]
	}
	return false
}

// Allows reports whether t falls inside the schedule: in the schedule's time zone, t's day
// is one of Days (all days when Days is empty) and its wall-clock time is in [From, To).
// When To < From the window wraps past midnight and the day checked is the day the window
// started (a "fri" 22:00-06:00 window covers Saturday 05:59). Wall-clock times follow DST:
// on the night clocks go back, times between the two readings of the repeated hour are
// judged by their wall clock each time. A nil *Schedule allows everything; an invalid
// schedule allows nothing.
func (s *Schedule) Allows(t time.Time) bool {
	if s == nil {
		return true
	}
	c, err := s.compile("schedule")
	if err != nil {
		return false
	}
	return c.allows(t.In(c.loc))
}

// WindowEnd returns, when Allows(t), the first instant after t at which Allows stops being
// true, so a server can end sessions when the window closes. It returns the zero time when
// Allows(t) is false, and also for a nil *Schedule, whose window never closes. The result
// is in t's location.
func (s *Schedule) WindowEnd(t time.Time) time.Time {
	if s == nil {
		return time.Time{}
	}
	c, err := s.compile("schedule")
	if err != nil {
		return time.Time{}
	}
	lt := t.In(c.loc)
	if !c.allows(lt) {
		return time.Time{}
	}
	// Between two zone transitions local time runs at a fixed offset from UTC, so the
	// window ends when the wall clock reaches To on the day it ends, unless a transition
	// comes first; at a transition the wall clock jumps and the schedule is judged again.
	// Windows are shorter than a day and transitions are months apart, but tzdata has odd
	// corners, so the walk is bounded.
	for range 64 {
		y, mo, d := lt.Date()
		if c.from > c.to && lt.Hour()*60+lt.Minute() >= c.from {
			d++ // the window wraps: it ends tomorrow
		}
		_, off := lt.Zone()
		end := time.Date(y, mo, d, c.to/60, c.to%60, 0, 0, time.FixedZone("", off))
		_, next := lt.ZoneBounds()
		if next.IsZero() || end.Before(next) {
			return end.In(t.Location())
		}
		lt = next.In(c.loc)
		if !c.allows(lt) {
			return next.In(t.Location())
		}
	}
	return lt.In(t.Location())
}
