// Package report reads the results `sentinel-bench` measured (JSON lines) and writes
// docs/BENCHMARKS.md: the machine, every figure with its ratio and target, microbenchmarks,
// the CPU profile, and the analysis.
package report

// Throughput is a "tp" line.
type Throughput struct {
	Kind    string    `json:"kind"`
	Label   string    `json:"label"`
	Streams int       `json:"streams"`
	Dir     string    `json:"dir"`
	Seconds float64   `json:"seconds"`
	Gbps    []float64 `json:"gbps"`
	Bytes   []int64   `json:"bytes"`
	Median  float64   `json:"median_gbps"`
	// CPU is the CPU time (user+sys, all processes of the path) per GB moved, core-seconds;
	// measured from /proc when -pids is given.
	CPUPerGB float64 `json:"cpu_s_per_gb,omitempty"`
	// CPUByProcess splits CPUPerGB by process name (target, client, relay, server, ...).
	CPUByProcess map[string]float64 `json:"cpu_s_per_gb_by_process,omitempty"`
	Verified     bool               `json:"verified"`
}

// Latency is an "rr" line.
type Latency struct {
	Kind   string  `json:"kind"`
	Label  string  `json:"label"`
	N      int     `json:"n"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	Mean   float64 `json:"mean_ms"`
	Max    float64 `json:"max_ms"`
	Min    float64 `json:"min_ms"`
	Errors int     `json:"errors"`
}

// RTT is an "rtt" line.
type RTT struct {
	Kind  string  `json:"kind"`
	Label string  `json:"label"`
	P50   float64 `json:"p50_ms"`
	Min   float64 `json:"min_ms"`
}

// Cold is a "cold" line.
type Cold struct {
	Kind   string    `json:"kind"`
	Label  string    `json:"label"`
	Runs   []float64 `json:"runs_ms"`
	P50    float64   `json:"p50_ms"`
	Min    float64   `json:"min_ms"`
	Max    float64   `json:"max_ms"`
	Listen float64   `json:"listen_p50_ms"` // process start to the local listener accepting
	Setup  float64   `json:"setup_p50_ms"`  // the client's own "session established" setup time
}

// Sample is one look at a process.
type Sample struct {
	RSSKiB     float64 `json:"rss_kib"`
	Goroutines float64 `json:"goroutines"`
	HeapInuse  float64 `json:"heap_inuse_bytes"`
	StackInuse float64 `json:"stack_inuse_bytes"`
	FDs        float64 `json:"fds"`
	Sessions   float64 `json:"sessions_active"`
	Streams    float64 `json:"streams_active"`
}

// PerUnit is the cost of one idle session or stream.
type PerUnit struct {
	RSSKiB     float64 `json:"rss_kib"`
	Goroutines float64 `json:"goroutines"`
	HeapKiB    float64 `json:"heap_kib"`
	StackKiB   float64 `json:"stack_kib"`
}

// Idle is an "idle" line.
type Idle struct {
	Kind          string  `json:"kind"`
	Label         string  `json:"label"`
	Sessions      int     `json:"sessions"`
	Held          bool    `json:"held"` // every session and stream was still open at the end
	SetupSeconds  float64 `json:"setup_seconds"`
	RelayBase     Sample  `json:"relay_base"`
	RelayIdle     Sample  `json:"relay_idle"`
	ServerBase    Sample  `json:"server_base"`
	ServerIdle    Sample  `json:"server_idle"`
	ServerStreams Sample  `json:"server_streams"`
	Streams       int     `json:"streams"`
	RelaySession  PerUnit `json:"relay_per_session"`
	ServerSession PerUnit `json:"server_per_session"`
	ServerStream  PerUnit `json:"server_per_stream"`
	Note          string  `json:"note,omitempty"`
	Error         string  `json:"error,omitempty"` // the run failed: why
	// RelayHeapTop is `go tool pprof -top` of the relay's in-use heap with the sessions idle.
	RelayHeapTop string `json:"relay_heap_top,omitempty"`
}

// MySQL is a "mysql" line.
type MySQL struct {
	Kind        string    `json:"kind"`
	Label       string    `json:"label"`
	Workload    string    `json:"workload"` // select1, read, ...
	Concurrency int       `json:"concurrency"`
	Queries     int       `json:"queries"`
	Seconds     []float64 `json:"run_seconds"` // per iteration
	QPS         float64   `json:"qps"`         // queries / median seconds
}

// Record carries the run's metadata lines: machine, micro, profile, end, wan.
type Record struct {
	Kind    string `json:"kind"`
	CPU     string `json:"cpu,omitempty"`
	Cores   int    `json:"cores,omitempty"`
	MemMiB  int    `json:"mem_mib,omitempty"`
	Kernel  string `json:"kernel,omitempty"`
	Go      string `json:"go,omitempty"`
	Date    string `json:"date,omitempty"`
	Load    string `json:"load,omitempty"`
	Quick   bool   `json:"quick,omitempty"`
	RoleEnv string `json:"role_env,omitempty"` // BENCH_ROLE_ENV: extra environment of the roles
	NoFile  int    `json:"nofile,omitempty"`
	Version string `json:"version,omitempty"`
	Text    string `json:"text,omitempty"`
	Cum     string `json:"cum,omitempty"`
	Bench   string `json:"bench,omitempty"`
	Skip    string `json:"skip,omitempty"`
	Method  string `json:"method,omitempty"`
	Sysctl  string `json:"sysctl,omitempty"`
}

// PingPong is a "pp" line: 32-byte round trips on one standing connection.
type PingPong struct {
	Kind  string  `json:"kind"`
	Label string  `json:"label"`
	N     int     `json:"n"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	// CPU is the CPU time per round trip of the path's processes, µs (USER_HZ resolution:
	// meaningful over thousands of round trips).
	CPU          float64            `json:"cpu_us"`
	CPUByProcess map[string]float64 `json:"cpu_us_by_process,omitempty"`
}
