module github.com/benthos-sse/benthos-sse

go 1.26.6
