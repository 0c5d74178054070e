package lbsync

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

func TestBisectInvalid(t *testing.T) {
	apps := make([]string, 40)
	for i := range apps {
		apps[i] = "/app" + strconv.Itoa(i+10)
	}
	// fakeCheck fails while any bad app is included; conflicting pairs fail
	// only together.
	fakeCheck := func(bad []string, pairs [][2]string) checkFunc {
		return func(_ context.Context, exclude []string) error {
			in := func(a string) bool { return !slices.Contains(exclude, a) }
			for _, b := range bad {
				if in(b) {
					return &CheckError{Output: "[ALERT] bad " + b, Err: errors.New("exit status 1")}
				}
			}
			for _, p := range pairs {
				if in(p[0]) && in(p[1]) {
					return &CheckError{Output: "[ALERT] conflict", Err: errors.New("exit status 1")}
				}
			}
			return nil
		}
	}
	tests := []struct {
		name     string
		bad      []string
		pairs    [][2]string
		prev     []string
		want     []string
		maxCheck int
	}{
		{name: "one", bad: []string{"/app23"}, want: []string{"/app23"}, maxCheck: 14},
		{name: "three", bad: []string{"/app10", "/app31", "/app49"}, want: []string{"/app10", "/app31", "/app49"}, maxCheck: 36},
		{name: "known from last time", bad: []string{"/app23"}, prev: []string{"/app23"}, want: []string{"/app23"}, maxCheck: 1},
		{name: "last time's fixed, another broke", bad: []string{"/app40"}, prev: []string{"/app23"}, want: []string{"/app40"}, maxCheck: 15},
		{name: "conflicting pair: one goes", pairs: [][2]string{{"/app12", "/app44"}}, want: []string{"/app44"}, maxCheck: 14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := fakeCheck(tt.bad, tt.pairs)
			got, checks, err := bisectInvalid(context.Background(), apps, tt.prev, check)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("bad = %v, want %v", got, tt.want)
			}
			if checks > tt.maxCheck {
				t.Errorf("%d checks, want at most %d", checks, tt.maxCheck)
			}
			if err := check(context.Background(), got); err != nil {
				t.Errorf("config without the bad apps still fails: %v", err)
			}
		})
	}
	t.Run("base invalid", func(t *testing.T) {
		always := func(context.Context, []string) error { return &CheckError{Err: errors.New("exit status 1")} }
		if _, _, err := bisectInvalid(context.Background(), apps, nil, always); !errors.Is(err, ErrBaseConfigInvalid) {
			t.Fatalf("err = %v, want ErrBaseConfigInvalid", err)
		}
	})
	t.Run("check cannot run", func(t *testing.T) {
		boom := errors.New("disk full")
		broken := func(context.Context, []string) error { return boom }
		if _, _, err := bisectInvalid(context.Background(), apps, nil, broken); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want %v", err, boom)
		}
	})
}
