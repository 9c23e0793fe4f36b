package rttest

import (
	"net"
	"testing"
)

// A port taken between picking it and rt-server binding it (another
// test's connection, say) made rt-server exit at once, and the harness
// then waited two minutes for an answer that could not come. Now the
// first start moves to another port.
func TestStartMovesOffATakenPort(t *testing.T) {
	r := Start(t)
	r.Stop()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	r.usePort(busy)
	r.start(true)
	if r.port == busy {
		t.Fatal("rt-server answered on a port another listener holds")
	}
	var queues map[string]any
	r.REST("GET", "/REST/2.0/queues/all", nil, &queues)
}
