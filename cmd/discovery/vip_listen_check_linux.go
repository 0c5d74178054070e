package main

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// vipListenCheck tells whether HAProxy could listen on ap (the load
// balancer's lbmodel.Config.VIPListenCheck): it binds a socket there as
// HAProxy does (SO_REUSEADDR and SO_REUSEPORT, so that HAProxy's own
// sockets do not count against it), without listening, and closes it. Only
// a port another program holds and an address not on this host are errors:
// any other failure (no privilege for a low port) is left for HAProxy to
// meet.
func vipListenCheck(ap netip.AddrPort) error {
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if ap.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	switch err := unix.Bind(fd, sa); {
	case errors.Is(err, unix.EADDRINUSE):
		return fmt.Errorf("port %d is in use on %s", ap.Port(), ap.Addr())
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return fmt.Errorf("%s is not an address of this host (see vipRange in docs/clients.md)", ap.Addr())
	}
	return nil
}
