package state_test

import (
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/mesos"
)

func init() {
	state.MesosStateDecoder = func(data []byte, meta state.FetchMeta) (*state.Cluster, error) {
		return mesos.DecodeState(data, mesos.FetchMeta{Source: meta.Source, FetchedAt: meta.FetchedAt})
	}
}
