// Command kafkabroker runs a one-broker Kafka cluster (franz-go's kfake) on
// 127.0.0.1, for black-box tests and benchmarks of the benthos-sse binary
// against Kafka without a JVM:
//
//	go run ./tests/kafkabroker -topics sse-events -partitions 3
//	go run ./tests/kafkabroker -addr 127.0.0.1:9092 -data-dir /tmp/kafka -sync
//
// It prints "kafkabroker listening on ADDR" to stdout once it accepts
// connections, and runs until SIGINT or SIGTERM, which close the cluster
// (flushing -data-dir). With -data-dir the records survive a restart on the
// same directory, and with -sync every acknowledged produce is on disk first,
// so that even a SIGKILL loses nothing the broker acknowledged: a test can
// kill the broker and start it again on the same -addr to stage an outage.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// The flags are declared inline, in the flag package's usual shape, which
// the repository's small commands share on purpose.
func main() {
	addr := flag.String("addr", "127.0.0.1:0", "the 127.0.0.1 address to listen on; port 0 picks a free one")
	topics := flag.String("topics", "", "comma-separated topics to create at start")
	partitions := flag.Int("partitions", 1, "partitions of each topic in -topics, and of topics created on first use")
	dataDir := flag.String("data-dir", "", "keep the cluster's state in this directory, reloaded at start")
	sync := flag.Bool("sync", false, "with -data-dir: fsync every produced batch before acknowledging it")
	flag.Parse()
	if err := run(*addr, *topics, *partitions, *dataDir, *sync); err != nil {
		fmt.Fprintln(os.Stderr, "kafkabroker:", err)
		os.Exit(1)
	}
}

func run(addr, topics string, partitions int, dataDir string, sync bool) error {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host != "127.0.0.1" {
		return fmt.Errorf("-addr %s: only 127.0.0.1 is allowed", addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("-addr %s: %w", addr, err)
	}
	if partitions < 1 {
		return fmt.Errorf("-partitions %d: must be at least 1", partitions)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(partitions),
	}
	if topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(partitions), strings.Split(topics, ",")...))
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
		if sync {
			opts = append(opts, kfake.SyncWrites())
		}
	} else if sync {
		return fmt.Errorf("-sync needs -data-dir")
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	fmt.Printf("kafkabroker listening on %s\n", c.ListenAddrs()[0])
	<-stop
	c.Close()
	return nil
}
