// Command gossestreams holds one tmaxmax/go-sse connection open to each URL
// listed in a file, the way a user of that library follows many streams:
// http.DefaultClient, one Connection and one goroutine calling Connect per
// stream. It is the go-sse side of the many-streams benchmark
// (cmd/streams): it serves /debug/pprof/ and /events (the number of events
// received so far) on -addr, so that the harness reads the same figures
// from it as from a Benthos process.
//
//	gossestreams -urls urls.txt -addr 127.0.0.1:0
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"sync/atomic"

	gosse "github.com/tmaxmax/go-sse"
)

func main() {
	urls := flag.String("urls", "", "file with one stream URL per line")
	addr := flag.String("addr", "127.0.0.1:0", "address for /debug/pprof/ and /events")
	flag.Parse()
	f, err := os.Open(*urls)
	if err != nil {
		log.Fatal(err)
	}
	var list []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		list = append(list, sc.Text())
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	f.Close()

	var events atomic.Int64
	http.HandleFunc("/events", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, events.Load())
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// The harness reads the address from the first line of stdout.
	fmt.Println(ln.Addr())
	go func() { log.Fatal(http.Serve(ln, nil)) }()

	for _, u := range list {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			log.Fatal(err)
		}
		conn := gosse.NewConnection(req)
		conn.SubscribeToAll(func(gosse.Event) { events.Add(1) })
		go func() {
			if err := conn.Connect(); err != nil {
				log.Printf("%s: %v", u, err)
			}
		}()
	}
	select {}
}
