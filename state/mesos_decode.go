package state

import (
	"errors"
	"time"
)

// FetchMeta is what a source knows about a fetch besides the document itself.
type FetchMeta struct {
	// Source names where the document came from (a master URL, a file path).
	Source string
	// FetchedAt is when the document was read.
	FetchedAt time.Time
	// Masters are the masters the source knows of (static list, ZooKeeper), in
	// order; they become Cluster.Masters.
	Masters []Master
}

// DecodeMesosState parses a Mesos master state document (/master/state, from Mesos
// 0.28 to 1.x) into a sealed Cluster. A truncated or malformed document is an error.
//
// PLACEHOLDER until the decoder lands (owned by the state-decode helper).
func DecodeMesosState(data []byte, meta FetchMeta) (*Cluster, error) {
	return nil, errors.New("not implemented")
}
