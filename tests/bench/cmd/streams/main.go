// Command streams measures what an open, mostly idle stream costs a client
// process: it serves N event streams on 127.0.0.1, one event per second each,
// and runs, one after another, a client process holding all N of them, then
// reports that process's resident memory, goroutines and CPU per event.
// Three clients, each in its own process so that this server's memory is
// never counted:
//
//   - list: the benthos-sse binary with one sse input whose `streams` list
//     holds the N streams;
//   - sse: the benthos-sse binary with a broker of N sse inputs;
//   - generate: the same binary with a broker of N generate inputs, one
//     message per second each: Benthos' own cost per input, which the sse
//     figures include;
//   - go-sse: cmd/gossestreams, N tmaxmax/go-sse connections.
//
// Run it through streams.sh, which builds the two client binaries and raises
// the open-file limit:
//
//	tests/bench/streams.sh [-n 100,1000,10000] [-window 10s]
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	benthos, gosse string
	ns             []int
	clients        []string
	ports          int
	settle, window time.Duration
	connectTimeout time.Duration
	rounds         int
	heapDir        string
	cpuDir         string
	linger         time.Duration
	memLimit       string
	keep           string
}

func main() {
	var c config
	var ns, clients string
	flag.StringVar(&c.benthos, "benthos", "", "path of the benthos-sse binary")
	flag.StringVar(&c.gosse, "gosse", "", "path of the gossestreams binary")
	flag.StringVar(&ns, "n", "100,1000,10000", "comma-separated stream counts")
	flag.StringVar(&clients, "clients", "list,sse,generate,go-sse", "comma-separated clients to run: list, list-linger (the list with -linger), list-memlimit (the list under GOMEMLIMIT=-memlimit), sse, generate, go-sse")
	flag.DurationVar(&c.linger, "linger", 5*time.Millisecond, "the list-linger client's linger")
	flag.StringVar(&c.memLimit, "memlimit", "450MiB", "the list-memlimit client's GOMEMLIMIT: the Go runtime's soft memory limit, which makes it collect before the heap doubles once the process nears the limit")
	flag.IntVar(&c.ports, "ports", 8, "listening ports the streams are spread over")
	flag.DurationVar(&c.settle, "settle", 5*time.Second, "wait after every stream is open, before measuring")
	flag.DurationVar(&c.window, "window", 10*time.Second, "how long CPU and events are measured")
	flag.DurationVar(&c.connectTimeout, "connect-timeout", 3*time.Minute, "bound on starting a client and opening its streams")
	flag.IntVar(&c.rounds, "rounds", 1, "runs of each client at each N; the table shows medians")
	flag.StringVar(&c.heapDir, "heap", "", "directory to write each client's heap profile (pprof) to at the end of its window")
	flag.StringVar(&c.cpuDir, "cpuprofile", "", "directory to write each client's CPU profile and allocations profile (pprof) of its window to (the two forced collections these take count in that run's CPU figures)")
	flag.StringVar(&c.keep, "keep", "", "directory to keep the generated configs and the clients' logs in")
	flag.Parse()
	for _, s := range strings.Split(ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			log.Fatalf("-n: %q is not a positive count", s)
		}
		c.ns = append(c.ns, n)
	}
	c.clients = strings.Split(clients, ",")
	for _, cl := range c.clients {
		if !slices.Contains([]string{"list", "list-linger", "list-memlimit", "sse", "generate", "go-sse"}, cl) {
			log.Fatalf("-clients: unknown client %q", cl)
		}
	}
	if c.benthos == "" || c.gosse == "" {
		log.Fatal("-benthos and -gosse are required (streams.sh builds them)")
	}
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

// result is one client's figures at one N.
type result struct {
	client string
	n      int
	rssKiB int64 // VmRSS at the end of the window
	hwmKiB int64 // VmHWM: the peak
	// liveKiB is what the process holds whenever its GC last ran: the live
	// heap and the goroutine stacks, read after a forced collection, after
	// the window. RSS also holds the garbage allocated since the last
	// collection, up to the GC's goal (twice the live heap by default), so
	// it depends on when that was: a client that allocates little goes
	// minutes without one after start-up, and its RSS keeps growing
	// meanwhile towards its goal.
	liveKiB    int64
	goroutines int
	cpu        time.Duration // user+system during the window
	events     int64         // received during the window
	window     time.Duration
	startup    time.Duration // from start until every stream was open
}

func run(c config) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	srv, err := newServer(c.ports)
	if err != nil {
		return err
	}
	defer srv.close()
	tmp, err := os.MkdirTemp("", "streams")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := cmp.Or(c.keep, tmp)
	for _, d := range []string{dir, c.heapDir, c.cpuDir} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}

	fmt.Printf("Machine: %d CPUs, load average at the start: %s\n", runtime.NumCPU(), loadavg())
	fmt.Printf("Streams: 1 event/s each, on %d ports of 127.0.0.1; settle %v, window %v, %d round(s); open-file limit %d\n\n",
		c.ports, c.settle, c.window, c.rounds, lim.Cur)
	var all []result
	for _, n := range c.ns {
		// Each process holds one socket per stream, and this server one
		// more per stream.
		if uint64(n)+256 > lim.Cur {
			fmt.Printf("skipping N=%d: the open-file limit is %d (raise it with ulimit -n)\n", n, lim.Cur)
			continue
		}
		for round := range c.rounds {
			for _, cl := range c.clients {
				r, err := measure(c, srv, dir, cl, n, round)
				if err != nil {
					return fmt.Errorf("%s, N=%d: %w", cl, n, err)
				}
				fmt.Fprintf(os.Stderr, "%-11s N=%-6d RSS %7.1f MiB (peak %7.1f, live %7.1f)  %6d goroutines  %8.1f µs CPU/event  %6d events  startup %v\n",
					r.client, r.n, float64(r.rssKiB)/1024, float64(r.hwmKiB)/1024, float64(r.liveKiB)/1024, r.goroutines,
					cpuPerEvent(r), r.events, r.startup.Round(time.Millisecond))
				all = append(all, r)
			}
		}
	}
	fmt.Printf("Load average at the end: %s\n\n", loadavg())
	printTable(os.Stdout, c, all)
	return nil
}

func cpuPerEvent(r result) float64 {
	if r.events == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.events)
}

// measure starts one client holding n streams, waits until they are all
// open and a settling time has passed, then measures for the window.
func measure(c config, srv *server, dir, client string, n, round int) (result, error) {
	r := result{client: client, n: n, window: c.window}
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://%s/s/%d", srv.addrs[i%len(srv.addrs)], i)
	}
	name := fmt.Sprintf("%s-%d-%d", client, n, round)
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return r, err
	}
	defer logf.Close()

	var cmd *exec.Cmd
	var debugAddr string
	switch client {
	case "list", "list-linger", "list-memlimit", "sse", "generate":
		debugAddr, err = freeAddr()
		if err != nil {
			return r, err
		}
		cfg := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(cfg, benthosConfig(client, debugAddr, urls, c.linger), 0o644); err != nil {
			return r, err
		}
		cmd = exec.Command(c.benthos, "-c", cfg)
		cmd.Stdout, cmd.Stderr = logf, logf
		if client == "list-memlimit" {
			cmd.Env = append(os.Environ(), "GOMEMLIMIT="+c.memLimit)
		}
	case "go-sse":
		list := filepath.Join(dir, name+".urls")
		if err := os.WriteFile(list, []byte(strings.Join(urls, "\n")+"\n"), 0o644); err != nil {
			return r, err
		}
		cmd = exec.Command(c.gosse, "-urls", list)
		cmd.Stderr = logf
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout io.ReadCloser
	if client == "go-sse" {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return r, err
		}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		stop(cmd, exited)
		srv.waitIdle(30 * time.Second)
	}()
	if stdout != nil {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			return r, fmt.Errorf("reading the debug address: %w", err)
		}
		debugAddr = strings.TrimSpace(line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.connectTimeout)
	defer cancel()
	cl := &http.Client{Timeout: 2 * time.Minute}
	counter := func() (int64, error) { return outputSent(cl, debugAddr) }
	if client == "go-sse" {
		counter = func() (int64, error) { return gosseEvents(cl, debugAddr) }
	}
	ready := func() (bool, error) {
		if client == "generate" {
			up, err := inputsUp(cl, debugAddr)
			return up >= int64(n), err
		}
		return srv.open.Load() >= int64(n), nil
	}
	for {
		ok, err := ready()
		if err == nil && ok {
			break
		}
		select {
		case err := <-exited:
			return r, fmt.Errorf("the client exited before its streams were open: %v (log: %s)", err, logf.Name())
		case <-ctx.Done():
			return r, fmt.Errorf("%d of %d streams open after %v (last error: %v)", srv.open.Load(), n, c.connectTimeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.startup = time.Since(start)
	time.Sleep(c.settle)

	// sample reads the process's CPU time and the events it delivered.
	sample := func() (time.Duration, int64, error) {
		cpu, err := cpuTime(cmd.Process.Pid)
		if err != nil {
			return 0, 0, err
		}
		ev, err := counter()
		return cpu, ev, err
	}
	cpu0, ev0, err := sample()
	if err != nil {
		return r, err
	}
	profiled := make(chan error, 1)
	if c.cpuDir != "" {
		go func() {
			profiled <- saveProfile(cl, debugAddr, c.window, filepath.Join(c.cpuDir, name+".cpu.pb.gz"))
		}()
	} else {
		profiled <- nil
	}
	time.Sleep(c.window)
	if err := <-profiled; err != nil {
		return r, err
	}
	cpu1, ev1, err := sample()
	if err != nil {
		return r, err
	}
	r.cpu, r.events = cpu1-cpu0, ev1-ev0
	if r.rssKiB, r.hwmKiB, err = memory(cmd.Process.Pid); err != nil {
		return r, err
	}
	if r.goroutines, err = goroutines(cl, debugAddr); err != nil {
		return r, err
	}
	var memstats []byte
	if r.liveKiB, memstats, err = live(cl, debugAddr); err != nil {
		return r, err
	}
	if c.heapDir != "" {
		if err := saveHeap(cl, debugAddr, filepath.Join(c.heapDir, name+".heap.pb.gz"), memstats); err != nil {
			return r, err
		}
	}
	return r, nil
}

// stop ends a client: SIGTERM, then SIGKILL after five seconds.
func stop(cmd *exec.Cmd, exited <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// benthosConfig renders one sse input with a streams list of the URLs
// (list), a broker of one input per URL (sse), or as many generate inputs, into a drop output, with the debug endpoints on addr.
// Metrics are as the binary's default (none) has them, except the output's
// output_sent counter, which counts the events, and input_connection_up,
// set once per input, which tells when every generate input runs: every
// other metric is mapped away, which makes it a no-op (rendering every
// metric of 10,000 inputs would cost the process seconds of CPU).
func benthosConfig(client, addr string, urls []string, linger time.Duration) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "http:\n  address: %s\n  debug_endpoints: true\n", addr)
	b.WriteString("logger:\n  level: warn\n")
	b.WriteString("metrics:\n  json_api: {}\n  mapping: 'root = if ![\"output_sent\", \"input_connection_up\"].contains(this) { deleted() }'\n")
	if strings.HasPrefix(client, "list") {
		b.WriteString("input:\n  sse:\n")
		if client == "list-linger" {
			fmt.Fprintf(&b, "    linger: %v\n", linger)
		}
		b.WriteString("    streams:\n")
		for i, u := range urls {
			fmt.Fprintf(&b, "      - {name: s%d, url: %s}\n", i, u)
		}
		b.WriteString("output:\n  drop: {}\n")
		return b.Bytes()
	}
	b.WriteString("input:\n  broker:\n    inputs:\n")
	for _, u := range urls {
		if client == "sse" {
			fmt.Fprintf(&b, "      - sse:\n          url: %s\n", u)
		} else {
			// About the size of the server's events.
			b.WriteString("      - generate:\n          interval: 1s\n          mapping: 'root = \"{\\\"stream\\\":1234,\\\"seq\\\":56}\"'\n")
		}
	}
	b.WriteString("output:\n  drop: {}\n")
	return b.Bytes()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// metricsJSON reads the json_api exporter's /metrics.
func metricsJSON(cl *http.Client, addr string) (map[string]json.RawMessage, error) {
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// sumMetric adds up the counters whose name, before its labels, is name.
func sumMetric(m map[string]json.RawMessage, name string) int64 {
	var sum int64
	for k, v := range m {
		if base, _, _ := strings.Cut(k, "{"); base == name {
			n, _ := strconv.ParseInt(string(v), 10, 64)
			sum += n
		}
	}
	return sum
}

func outputSent(cl *http.Client, addr string) (int64, error) {
	m, err := metricsJSON(cl, addr)
	return sumMetric(m, "output_sent"), err
}

func inputsUp(cl *http.Client, addr string) (int64, error) {
	m, err := metricsJSON(cl, addr)
	return sumMetric(m, "input_connection_up"), err
}

func gosseEvents(cl *http.Client, addr string) (int64, error) {
	b, err := get(cl, "http://"+addr+"/events")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func get(cl *http.Client, url string) ([]byte, error) {
	resp, err := cl.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// live forces a collection and returns the live heap and the stacks
// (HeapAlloc + StackInuse), in KiB, and the runtime.MemStats they were
// read from, which the heap profile's text form ends with.
func live(cl *http.Client, addr string) (kib int64, memstats []byte, err error) {
	b, err := get(cl, "http://"+addr+"/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return 0, nil, err
	}
	if i := bytes.Index(b, []byte("# runtime.MemStats")); i >= 0 {
		b = b[i:]
	}
	var heap, stack int64 = -1, -1
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			heap, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "# Stack = "); ok {
			inuse, _, _ := strings.Cut(v, " ")
			stack, _ = strconv.ParseInt(inuse, 10, 64)
		}
	}
	if heap < 0 || stack < 0 {
		return 0, nil, errors.New("no HeapAlloc or Stack in the heap profile's MemStats")
	}
	return (heap + stack) / 1024, b, nil
}

// goroutines reads the total from the goroutine profile's first line,
// "goroutine profile: total N".
func goroutines(cl *http.Client, addr string) (int, error) {
	b, err := get(cl, "http://"+addr+"/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	first, _, _ := bytes.Cut(b, []byte("\n"))
	var n int
	if _, err := fmt.Sscanf(string(first), "goroutine profile: total %d", &n); err != nil {
		return 0, fmt.Errorf("goroutine profile header %q: %w", first, err)
	}
	return n, nil
}

// saveHeap writes the heap profile to path, and next to it memstats, the
// runtime.MemStats (heap, stacks, GC) that live read.
func saveHeap(cl *http.Client, addr, path string, memstats []byte) error {
	b, err := get(cl, "http://"+addr+"/debug/pprof/heap?gc=1")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(strings.TrimSuffix(path, ".heap.pb.gz")+".memstats.txt", memstats, 0o644); err != nil {
		return err
	}
	// Where the goroutines wait, grouped: what their stacks hold.
	if b, err = get(cl, "http://"+addr+"/debug/pprof/goroutine?debug=1"); err != nil {
		return err
	}
	return os.WriteFile(strings.TrimSuffix(path, ".heap.pb.gz")+".goroutines.txt", b, 0o644)
}

// saveProfile writes a CPU profile of the client over the window to path,
// and beside it the heap profile at the window's start and end, each right
// after a forced collection (.allocs0.pb.gz, .allocs1.pb.gz), so that
//
//	go tool pprof -sample_index=alloc_space -base X.allocs0.pb.gz X.allocs1.pb.gz
//
// shows the window's allocations alone: a heap profile is as of the last
// collection, so without them the start-up's allocations would leak in.
func saveProfile(cl *http.Client, addr string, window time.Duration, path string) error {
	base := strings.TrimSuffix(path, ".cpu.pb.gz")
	heap := func(suffix string) error {
		b, err := get(cl, "http://"+addr+"/debug/pprof/heap?gc=1")
		if err != nil {
			return err
		}
		return os.WriteFile(base+suffix, b, 0o644)
	}
	if err := heap(".allocs0.pb.gz"); err != nil {
		return err
	}
	secs := max(1, int(window/time.Second)-1)
	b, err := get(cl, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	return heap(".allocs1.pb.gz")
}

// cpuTime is the process's user+system time from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: the fields
	// start after the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	// The kernel counts in clock ticks, USER_HZ, which is 100 on Linux.
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// memory returns VmRSS and VmHWM from /proc/PID/status, in KiB.
func memory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			rss, _ = strconv.ParseInt(f[0], 10, 64)
		case "VmHWM":
			hwm, _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// server serves /s/K on several ports: an event stream with one event per
// second, its first at a random point of the first second so that the
// streams' events spread evenly over time rather than arriving in step.
type server struct {
	addrs []string
	srvs  []*http.Server
	open  atomic.Int64 // streams being served
}

func newServer(ports int) (*server, error) {
	s := &server{}
	h := http.HandlerFunc(s.serve)
	for range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.close()
			return nil, err
		}
		srv := &http.Server{Handler: h}
		s.addrs = append(s.addrs, ln.Addr().String())
		s.srvs = append(s.srvs, srv)
		go srv.Serve(ln)
	}
	return s, nil
}

// waitIdle waits, at most for d, until no stream is being served, so that
// the next client starts from zero.
func (s *server) waitIdle(d time.Duration) {
	for deadline := time.Now().Add(d); s.open.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) close() {
	for _, srv := range s.srvs {
		srv.Close()
	}
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f := w.(http.Flusher)
	f.Flush()
	s.open.Add(1)
	defer s.open.Add(-1)
	stream := strings.TrimPrefix(r.URL.Path, "/s/")
	t := time.NewTimer(rand.N(time.Second))
	defer t.Stop()
	for seq := 1; ; seq++ {
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
		t.Reset(time.Second)
		if _, err := fmt.Fprintf(w, "id: %d\ndata: {\"stream\":%s,\"seq\":%d}\n\n", seq, stream, seq); err != nil {
			return
		}
		f.Flush()
	}
}

// printTable prints the medians of every client at every N, and the SSE
// part of the sse input's cost: its figures minus generate's.
func printTable(w io.Writer, c config, all []result) {
	type key struct {
		client string
		n      int
	}
	groups := map[key][]result{}
	for _, r := range all {
		k := key{r.client, r.n}
		groups[k] = append(groups[k], r)
	}
	med := func(k key, f func(result) float64) (float64, bool) {
		g := groups[k]
		if len(g) == 0 {
			return 0, false
		}
		v := make([]float64, len(g))
		for i, r := range g {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2], true
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
	}
	rssPer := func(r result) float64 { return float64(r.rssKiB) / float64(r.n) }
	fmt.Fprintf(w, "| client | N | RSS MiB (peak) | live heap + stacks MiB | RSS/stream KiB | goroutines/stream | CPU µs/event | events/s | startup s |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range c.ns {
		for _, cl := range c.clients {
			k := key{cl, n}
			rss, ok := med(k, func(r result) float64 { return float64(r.rssKiB) / 1024 })
			if !ok {
				continue
			}
			hwm, _ := med(k, func(r result) float64 { return float64(r.hwmKiB) / 1024 })
			per, _ := med(k, rssPer)
			gor, _ := med(k, func(r result) float64 { return float64(r.goroutines) / float64(r.n) })
			cpu, _ := med(k, cpuPerEvent)
			eps, _ := med(k, func(r result) float64 { return float64(r.events) / r.window.Seconds() })
			up, _ := med(k, func(r result) float64 { return r.startup.Seconds() })
			lv, _ := med(k, func(r result) float64 { return float64(r.liveKiB) / 1024 })
			fmt.Fprintf(w, "| %s | %d | %.1f (%.1f) | %.1f | %.1f | %.2f | %.1f | %.0f | %.1f |\n", cl, n, rss, hwm, lv, per, gor, cpu, eps, up)
		}
	}
	fmt.Fprintf(w, "\nOne input with a streams list against go-sse holding the same connections (targets: memory ≤ 1.0×, CPU per event ≤ 1.5×), and what the list saves over a broker of single inputs.\n\n")
	fmt.Fprintf(w, "| N | client | RSS MiB: client / go-sse = ratio | live heap + stacks MiB: client / go-sse = ratio | CPU µs/event: client / go-sse = ratio | broker RSS MiB | broker CPU µs/event |\n")
	fmt.Fprintf(w, "|---:|---|---:|---:|---:|---:|---:|\n")
	for _, n := range c.ns {
		rss := func(r result) float64 { return float64(r.rssKiB) / 1024 }
		lv := func(r result) float64 { return float64(r.liveKiB) / 1024 }
		gr, ok := med(key{"go-sse", n}, rss)
		if !ok {
			continue
		}
		gl, _ := med(key{"go-sse", n}, lv)
		gc, _ := med(key{"go-sse", n}, cpuPerEvent)
		broker := "| - | - |"
		if br, ok := med(key{"sse", n}, rss); ok {
			bc, _ := med(key{"sse", n}, cpuPerEvent)
			broker = fmt.Sprintf("| %.1f | %.1f |", br, bc)
		}
		for _, cl := range []string{"list", "list-linger", "list-memlimit"} {
			lr, ok := med(key{cl, n}, rss)
			if !ok {
				continue
			}
			ll, _ := med(key{cl, n}, lv)
			lc, _ := med(key{cl, n}, cpuPerEvent)
			name := cl
			switch cl {
			case "list-linger":
				name = fmt.Sprintf("list, linger %v", c.linger)
			case "list-memlimit":
				name = "list, GOMEMLIMIT=" + c.memLimit
			}
			fmt.Fprintf(w, "| %d | %s | %.1f / %.1f = %.2f | %.1f / %.1f = %.2f | %.1f / %.1f = %.2f %s\n", n, name, lr, gr, lr/gr, ll, gl, ll/gl, lc, gc, lc/gc, broker)
		}
	}
	fmt.Fprintf(w, "\nThe SSE part of a stream: sse minus generate, per stream; go-sse per connection; the target is half of go-sse.\n\n")
	fmt.Fprintf(w, "| N | SSE part KiB/stream | go-sse KiB/conn | ratio | SSE part goroutines/stream | go-sse goroutines/conn |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range c.ns {
		s, ok1 := med(key{"sse", n}, rssPer)
		g, ok2 := med(key{"generate", n}, rssPer)
		p, ok3 := med(key{"go-sse", n}, rssPer)
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		sg, _ := med(key{"sse", n}, func(r result) float64 { return float64(r.goroutines) / float64(r.n) })
		gg, _ := med(key{"generate", n}, func(r result) float64 { return float64(r.goroutines) / float64(r.n) })
		pg, _ := med(key{"go-sse", n}, func(r result) float64 { return float64(r.goroutines) / float64(r.n) })
		fmt.Fprintf(w, "| %d | %.1f | %.1f | %.2f | %.2f | %.2f |\n", n, s-g, p, (s-g)/p, sg-gg, pg)
	}
}
