package queue_test

import (
	"testing"

	"github.com/connector-gateway/connector/queue/queuetest"
)

func TestContract(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			queuetest.Run(t, b)
		})
	}
}
