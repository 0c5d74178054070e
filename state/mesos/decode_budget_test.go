package mesos

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A document of tiny objects decodes into many times its size: MaxDecoded
// stops it, from bytes and from a reader, whatever the object kind; a real
// document well within the budget decodes as before.
func TestDecodeBudget(t *testing.T) {
	many := func(head, item string, n int) []byte {
		var b bytes.Buffer
		b.WriteString(`{"leader":"master@127.0.0.1:5050",` + head + `:[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(item)
		}
		b.WriteString(`]}`)
		return b.Bytes()
	}
	docs := map[string][]byte{
		"frameworks": many(`"frameworks"`, `{"id":"x","tasks":[]}`, 200000),
		"agents":     many(`"slaves"`, `{"id":"a"}`, 200000),
		"tasks":      []byte(strings.Replace(string(many(`"frameworks":[{"id":"f","tasks"`, `{"id":"t","state":"TASK_RUNNING"}`, 200000)), `]}`, `]}]}`, 1)),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			budget := int64(len(doc)) // the byte limit a poller would have
			if _, err := DecodeState(doc, FetchMeta{MaxDecoded: budget}); !errors.Is(err, ErrStateTooLarge) {
				t.Fatalf("from bytes: err = %v, want ErrStateTooLarge", err)
			}
			if _, err := DecodeStateFrom(bytes.NewReader(doc), FetchMeta{MaxDecoded: budget, Size: int64(len(doc))}); !errors.Is(err, ErrStateTooLarge) {
				t.Fatalf("from a reader: err = %v, want ErrStateTooLarge", err)
			}
			if c, err := DecodeState(doc, FetchMeta{}); err != nil || len(c.Frameworks)+len(c.Agents)+len(c.Tasks) < 200000 {
				t.Fatalf("without a budget: %v", err)
			}
		})
	}
	real := genMesosState(2000)
	c, err := DecodeStateFrom(bytes.NewReader(real), FetchMeta{MaxDecoded: int64(len(real)), Size: int64(len(real))})
	if err != nil || len(c.Tasks) == 0 {
		t.Fatalf("a real state within its byte limit: %v", err)
	}
}
