package certattrs

import (
	"math/rand/v2"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	officeHours = &Schedule{TZ: "Europe/Paris", Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}
	fridayNight = &Schedule{TZ: "Europe/Paris", Days: []string{"fri"}, From: "22:00", To: "06:00"}
	lastMinute  = &Schedule{TZ: "UTC", From: "23:59", To: "00:00"}
	parisDaily  = func(from, to string) *Schedule { return &Schedule{TZ: "Europe/Paris", From: from, To: to} }
)

func TestScheduleAllows(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		s    *Schedule
		t    time.Time
		want bool
	}{
		"ok/nil-allows-everything":      {nil, utc("2025-06-07 03:00:00"), true},
		"ok/office-from-inclusive":      {officeHours, utc("2025-06-02 07:00:00"), true}, // Mon 09:00 CEST
		"ok/office-before-to":           {officeHours, utc("2025-06-02 14:59:59"), true}, // 16:59:59
		"ok/office-winter":              {officeHours, utc("2025-01-06 08:00:00"), true}, // Mon 09:00 CET
		"ok/office-other-location":      {officeHours, utc("2025-06-02 07:00:00").In(newYork), true},
		"fail/office-before-from":       {officeHours, utc("2025-06-02 06:59:59"), false}, // 08:59:59
		"fail/office-to-exclusive":      {officeHours, utc("2025-06-02 15:00:00"), false}, // 17:00
		"fail/office-winter-early":      {officeHours, utc("2025-01-06 07:59:59"), false}, // 08:59:59 CET
		"fail/office-saturday":          {officeHours, utc("2025-06-07 10:00:00"), false},
		"fail/office-utc-day-differs":   {officeHours, utc("2025-06-01 22:30:00"), false}, // Sun 22:30 UTC is Mon 00:30 CEST
		"ok/wrap-start":                 {fridayNight, utc("2025-06-06 20:00:00"), true},  // Fri 22:00
		"ok/wrap-midnight":              {fridayNight, utc("2025-06-06 22:00:00"), true},  // Sat 00:00
		"ok/wrap-after-midnight":        {fridayNight, utc("2025-06-07 03:59:59"), true},  // Sat 05:59:59, started Fri
		"fail/wrap-before-start":        {fridayNight, utc("2025-06-06 19:59:59"), false}, // Fri 21:59:59
		"fail/wrap-end":                 {fridayNight, utc("2025-06-07 04:00:00"), false}, // Sat 06:00
		"fail/wrap-saturday-evening":    {fridayNight, utc("2025-06-07 20:00:00"), false}, // Sat 22:00: Sat not allowed
		"fail/wrap-friday-morning":      {fridayNight, utc("2025-06-06 01:00:00"), false}, // Fri 03:00: started Thu
		"fail/wrap-between":             {fridayNight, utc("2025-06-06 10:00:00"), false},
		"ok/last-minute":                {lastMinute, utc("2025-06-06 23:59:00"), true},
		"ok/last-minute-end":            {lastMinute, utc("2025-06-06 23:59:59.999999999"), true},
		"fail/last-minute-midnight":     {lastMinute, utc("2025-06-07 00:00:00"), false},
		"fail/last-minute-before":       {lastMinute, utc("2025-06-06 23:58:59"), false},
		"ok/spring-forward-after-gap":   {parisDaily("02:30", "04:00"), utc("2025-03-30 01:00:00"), true},  // 03:00 CEST
		"fail/spring-forward-pre-gap":   {parisDaily("02:30", "04:00"), utc("2025-03-30 00:59:59"), false}, // 01:59:59 CET
		"ok/fall-back-first-0230":       {parisDaily("00:00", "02:30"), utc("2025-10-26 00:00:00"), true},  // 02:00 CEST
		"fail/fall-back-first-0245":     {parisDaily("00:00", "02:30"), utc("2025-10-26 00:45:00"), false}, // 02:45 CEST
		"ok/fall-back-second-0200":      {parisDaily("00:00", "02:30"), utc("2025-10-26 01:00:00"), true},  // 02:00 CET
		"fail/fall-back-second-0230":    {parisDaily("00:00", "02:30"), utc("2025-10-26 01:30:00"), false}, // 02:30 CET
		"fail/invalid-tz-allows-none":   {&Schedule{TZ: "Nowhere/Nothing", From: "00:00", To: "23:59"}, utc("2025-06-06 12:00:00"), false},
		"fail/invalid-time-allows-none": {&Schedule{TZ: "UTC", From: "0:00", To: "23:59"}, utc("2025-06-06 12:00:00"), false},
		"fail/empty-window-allows-none": {&Schedule{TZ: "UTC", From: "10:00", To: "10:00"}, utc("2025-06-06 10:00:00"), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.s.Allows(tc.t); got != tc.want {
				t.Errorf("Allows(%v) = %v, want %v", tc.t, got, tc.want)
			}
		})
	}
}

func TestScheduleWindowEnd(t *testing.T) {
	var zero time.Time
	tests := map[string]struct {
		s    *Schedule
		t    time.Time
		want time.Time
	}{
		"nil-never-ends":     {nil, utc("2025-06-02 07:00:00"), zero},
		"not-allowed":        {officeHours, utc("2025-06-07 10:00:00"), zero},
		"invalid":            {&Schedule{TZ: "UTC", From: "10:00", To: "10:00"}, utc("2025-06-02 10:00:00"), zero},
		"office":             {officeHours, utc("2025-06-02 07:00:00"), utc("2025-06-02 15:00:00")},
		"office-last-second": {officeHours, utc("2025-06-02 14:59:59.5"), utc("2025-06-02 15:00:00")},
		"wrap-evening":       {fridayNight, utc("2025-06-06 20:00:00"), utc("2025-06-07 04:00:00")},
		"wrap-morning":       {fridayNight, utc("2025-06-07 03:59:59"), utc("2025-06-07 04:00:00")},
		"last-minute":        {lastMinute, utc("2025-06-06 23:59:30"), utc("2025-06-07 00:00:00")},
		// Spring forward, Europe/Paris, 2025-03-30 01:00 UTC: 02:00 CET becomes 03:00 CEST.
		"spring/to-after-gap":    {parisDaily("01:00", "03:00"), utc("2025-03-30 00:00:00"), utc("2025-03-30 01:00:00")},
		"spring/to-in-gap":       {parisDaily("01:00", "02:30"), utc("2025-03-30 00:00:00"), utc("2025-03-30 01:00:00")},
		"spring/to-at-gap":       {parisDaily("01:00", "02:00"), utc("2025-03-30 00:00:00"), utc("2025-03-30 01:00:00")},
		"spring/from-in-gap":     {parisDaily("02:30", "04:00"), utc("2025-03-30 01:00:00"), utc("2025-03-30 02:00:00")},
		"spring/wrap-over-gap":   {parisDaily("22:00", "06:00"), utc("2025-03-29 21:00:00"), utc("2025-03-30 04:00:00")},
		"spring/to-after-gap-10": {parisDaily("01:00", "04:10"), utc("2025-03-30 00:59:00"), utc("2025-03-30 02:10:00")},
		// Fall back, Europe/Paris, 2025-10-26 01:00 UTC: 03:00 CEST becomes 02:00 CET.
		"fall/first-pass":        {parisDaily("00:00", "02:30"), utc("2025-10-26 00:00:00"), utc("2025-10-26 00:30:00")},
		"fall/second-pass":       {parisDaily("00:00", "02:30"), utc("2025-10-26 01:00:00"), utc("2025-10-26 01:30:00")},
		"fall/clock-goes-back":   {parisDaily("02:30", "04:00"), utc("2025-10-26 00:45:00"), utc("2025-10-26 01:00:00")},
		"fall/after-back":        {parisDaily("02:30", "04:00"), utc("2025-10-26 01:30:00"), utc("2025-10-26 03:00:00")},
		"fall/spans-transition":  {parisDaily("01:00", "03:00"), utc("2025-10-25 23:30:00"), utc("2025-10-26 02:00:00")},
		"fall/wrap":              {&Schedule{TZ: "Europe/Paris", Days: []string{"sat"}, From: "22:00", To: "06:00"}, utc("2025-10-25 20:00:00"), utc("2025-10-26 05:00:00")},
		"fall/wrap-after-change": {&Schedule{TZ: "Europe/Paris", Days: []string{"sat"}, From: "22:00", To: "06:00"}, utc("2025-10-26 04:59:59"), utc("2025-10-26 05:00:00")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := tc.s.WindowEnd(tc.t)
			if !got.Equal(tc.want) {
				t.Fatalf("WindowEnd(%v) = %v, want %v", tc.t, got, tc.want)
			}
			if tc.want.IsZero() {
				return
			}
			if !tc.s.Allows(got.Add(-time.Nanosecond)) || tc.s.Allows(got) {
				t.Errorf("Allows does not change at %v", got)
			}
		})
	}
}

func TestScheduleWindowEndKeepsLocation(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	at := utc("2025-06-02 07:00:00").In(loc)
	if end := officeHours.WindowEnd(at); end.Location() != loc || !end.Equal(utc("2025-06-02 15:00:00")) {
		t.Errorf("WindowEnd = %v, want 2025-06-02 15:00 UTC in %v", end, loc)
	}
}

// bruteWindowEnd finds where Allows turns false by walking UTC minutes from t, then bisecting
// the last minute. Every zone used has offsets in whole minutes, so Allows changes only on
// UTC minute boundaries.
func bruteWindowEnd(t *testing.T, s *Schedule, from time.Time) time.Time {
	lo := from
	for hi := from.Truncate(time.Minute).Add(time.Minute); hi.Sub(from) < 50*time.Hour; hi = hi.Add(time.Minute) {
		if s.Allows(hi) {
			lo = hi
			continue
		}
		for hi.Sub(lo) > time.Nanosecond {
			mid := lo.Add(hi.Sub(lo) / 2)
			if s.Allows(mid) {
				lo = mid
			} else {
				hi = mid
			}
		}
		return hi
	}
	t.Fatalf("schedule %+v allowed for 50 hours from %v", s, from)
	return time.Time{}
}

// TestScheduleWindowEndAgainstBruteForce checks WindowEnd against a walk of Allows around
// every zone transition of some awkward zones: half-hour DST (Lord Howe), midnight
// transitions (Santiago, Havana), a skipped day (Apia, December 2011) and odd offsets.
func TestScheduleWindowEndAgainstBruteForce(t *testing.T) {
	zones := []string{"Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
		"America/Havana", "Pacific/Apia", "Asia/Kathmandu", "America/St_Johns", "UTC"}
	rng := rand.New(rand.NewPCG(1, 2))
	perTransition := 3
	if testing.Short() {
		perTransition = 1
	}
	checked := 0
	for _, zone := range zones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		var transitions []time.Time
		for u := time.Date(2011, 1, 1, 0, 0, 0, 0, loc); u.Year() < 2027; {
			_, end := u.ZoneBounds()
			if end.IsZero() {
				break
			}
			transitions = append(transitions, end)
			u = end
		}
		if zone != "UTC" && len(transitions) == 0 {
			t.Fatalf("%s: no transitions found", zone)
		}
		transitions = append(transitions, time.Date(2025, 6, 1, 12, 0, 0, 0, loc))
		for _, tr := range transitions {
			for range perTransition {
				s := randomSchedule(rng, zone)
				at := tr.Add(time.Duration(rng.Int64N(int64(52*time.Hour))) - 40*time.Hour)
				if !s.Allows(at) {
					if s.WindowEnd(at) != (time.Time{}) {
						t.Fatalf("%+v: WindowEnd(%v) non-zero outside the window", s, at)
					}
					continue
				}
				checked++
				got, want := s.WindowEnd(at), bruteWindowEnd(t, s, at)
				if !got.Equal(want) {
					t.Fatalf("%+v: WindowEnd(%v) = %v, want %v (transition %v)", s, at.In(loc), got.In(loc), want.In(loc), tr)
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d windows checked", checked)
	}
}

func randomSchedule(rng *rand.Rand, tz string) *Schedule {
	clock := func() string {
		m := rng.IntN(24 * 60)
		return time.Date(2000, 1, 1, m/60, m%60, 0, 0, time.UTC).Format("15:04")
	}
	s := &Schedule{TZ: tz, From: clock(), To: clock()}
	for s.To == s.From {
		s.To = clock()
	}
	if rng.IntN(3) > 0 {
		for _, d := range dayNames {
			if rng.IntN(2) == 0 {
				s.Days = append(s.Days, d)
			}
		}
	}
	return s
}
