package main

import (
	"bufio"
	"context"
	"flag"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/sentinel-zt/sentinel/bench/report"
)

func cmdReport(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	in := fs.String("in", "", "results file (JSON lines)")
	out := fs.String("out", "docs/BENCHMARKS.md", "markdown to write")
	_ = fs.Parse(args)
	res, err := report.Load(*in)
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := report.Write(f, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func cmdRecord(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("record", flag.ExitOnError)
	out := fs.String("out", "", "results file")
	machine := fs.Bool("machine", false, "record the machine, date and load")
	quick := fs.Bool("quick", false, "BENCH_QUICK run")
	roleEnv := fs.String("role-env", "", "BENCH_ROLE_ENV: extra environment of the roles")
	nofile := fs.Int("nofile", 0, "descriptor limit")
	version := fs.String("version", "", "git describe")
	micro := fs.String("micro", "", "go test -bench output to record")
	profTop := fs.String("profile", "", "pprof -top output to record")
	profCum := fs.String("profile-cum", "", "pprof -top -cum output to record")
	profBench := fs.String("profile-bench", "", "the profiled benchmark's output")
	end := fs.Bool("end", false, "record the end of the run")
	wanSkip := fs.String("wan-skip", "", "why the WAN phase could not run")
	wanMethod := fs.String("wan-method", "", "how the WAN link is emulated")
	wanSysctl := fs.String("wan-sysctl", "", "TCP settings in the namespaces")
	_ = fs.Parse(args)
	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return string(b)
	}
	var rec report.Record
	switch {
	case *machine:
		rec = report.Record{Kind: "machine", CPU: cpuModel(), Cores: runtime.NumCPU(), Kernel: kernel(),
			Go: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339), Load: loadavg(),
			Quick: *quick, RoleEnv: *roleEnv, NoFile: *nofile, Version: *version, MemMiB: memMiB()}
	case *micro != "":
		rec = report.Record{Kind: "micro", Text: read(*micro)}
	case *profTop != "":
		rec = report.Record{Kind: "profile", Text: read(*profTop), Cum: read(*profCum), Bench: read(*profBench)}
	case *end:
		rec = report.Record{Kind: "end", Date: time.Now().UTC().Format(time.RFC3339), Load: loadavg()}
	case *wanSkip != "":
		rec = report.Record{Kind: "wan", Skip: *wanSkip}
	case *wanMethod != "":
		rec = report.Record{Kind: "wan", Method: *wanMethod, Sysctl: *wanSysctl}
	default:
		return nil
	}
	return emit(*out, rec)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernel() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return "Linux " + string(b)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func memMiB() int {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return 0
	}
	return int(uint64(si.Totalram) * uint64(si.Unit) >> 20)
}
