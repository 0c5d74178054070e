package state

import (
	"errors"
	"time"
)

// The tests of the Mesos task selection (apps_from_mesos_test.go) decode a
// state document, and the decoder lives in state/mesos, which this package
// cannot import: mesos_decode_hook_ext_test.go (package state_test, which can)
// installs it here. FetchMeta and DecodeMesosState keep those tests as they
// were until the selection moves to the load balancer with them.

// FetchMeta is the part of mesos.FetchMeta the tests here set.
type FetchMeta struct {
	Source    string
	FetchedAt time.Time
}

// MesosStateDecoder is mesos.DecodeState, installed by the external test
// package.
var MesosStateDecoder func(data []byte, meta FetchMeta) (*Cluster, error)

// DecodeMesosState decodes a /master/state document with state/mesos.
func DecodeMesosState(data []byte, meta FetchMeta) (*Cluster, error) {
	if MesosStateDecoder == nil {
		return nil, errors.New("no Mesos state decoder installed")
	}
	return MesosStateDecoder(data, meta)
}
