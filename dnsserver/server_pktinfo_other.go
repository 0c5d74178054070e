//go:build !linux

package dnsserver

import (
	"errors"
	"net"
)

const pktinfoSupported = false

func enablePktinfo(*net.UDPConn) error { return errors.New("pktinfo: not supported on this platform") }

func replySourceOOB(in, out []byte) []byte { return nil }
