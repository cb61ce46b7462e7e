package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Forward is a loopback listener on the host whose connections are carried
// to an address inside a lab namespace: the only way the host reaches lab
// services, so no lab address ever needs a route from the host.
type Forward struct {
	ln     net.Listener
	ns     string
	target string
	// resolve, when set, names the target for each new connection (a
	// name whose address changes, such as the API server's).
	resolve func(context.Context) (string, error)
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
}

// NewForward listens on 127.0.0.1 (a free port) and forwards to target
// (host:port) inside network namespace ns.
func NewForward(ns, target string) (*Forward, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for a forward to %s in %s: %w", target, ns, err)
	}
	f := &Forward{ln: ln, ns: ns, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

// NewResolvingForward is NewForward to a target looked up for every
// connection, so the forward follows it when it moves.
func NewResolvingForward(ns string, resolve func(context.Context) (string, error)) (*Forward, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for a forward into %s: %w", ns, err)
	}
	f := &Forward{ln: ln, ns: ns, resolve: resolve, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

// Addr is the loopback address (127.0.0.1:port) to connect to.
func (f *Forward) Addr() string { return f.ln.Addr().String() }

func (f *Forward) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.pipe(c)
		}()
	}
}

func (f *Forward) track(c net.Conn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if add {
		if f.closed {
			return false
		}
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
	return true
}

func (f *Forward) pipe(c net.Conn) {
	defer c.Close()
	target := f.target
	if f.resolve != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t, err := f.resolve(ctx)
		cancel()
		if err != nil {
			return
		}
		target = t
	}
	up, err := DialIn(context.Background(), f.ns, "tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	if !f.track(c, true) || !f.track(up, true) {
		return
	}
	defer f.track(c, false)
	defer f.track(up, false)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); closeWrite(up); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); closeWrite(c); done <- struct{}{} }()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// Close stops listening and cuts every forwarded connection.
func (f *Forward) Close() error {
	err := f.ln.Close()
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return err
}

// DialIn opens a connection from inside network namespace ns. The socket is
// created by a thread that has entered ns and it stays there; the thread
// then returns to the process's namespace.
func DialIn(ctx context.Context, ns, network, address string) (net.Conn, error) {
	var conn net.Conn
	err := InNetNS(ns, func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, address)
		conn = c
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dialing %s in %s: %w", address, ns, err)
	}
	return conn, nil
}

// InNetNS runs fn on an OS thread switched into network namespace ns.
// Sockets fn creates belong to ns for their whole life.
func InNetNS(ns string, fn func() error) error {
	target, err := os.Open(filepath.Join(NetNSDir, ns))
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", ns, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- fmt.Errorf("opening this thread's network namespace: %w", err)
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering network namespace %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime discards it when this
			// goroutine ends, so no other goroutine runs in ns by accident.
			errc <- errors.Join(ferr, fmt.Errorf("returning from network namespace %s: %w", ns, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// ListenIn opens a listener inside network namespace ns.
func ListenIn(ns, network, address string) (net.Listener, error) {
	var ln net.Listener
	err := InNetNS(ns, func() error {
		l, err := net.Listen(network, address)
		ln = l
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s in %s: %w", address, ns, err)
	}
	return ln, nil
}

// ListenPacketIn opens a packet listener (UDP) inside network namespace ns.
func ListenPacketIn(ns, network, address string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := InNetNS(ns, func() error {
		p, err := net.ListenPacket(network, address)
		pc = p
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s in %s: %w", address, ns, err)
	}
	return pc, nil
}
