// Package wan is a userspace WAN emulator for `make bench`: a delay line between two TUN
// devices. The kernel here has no netem qdisc (CONFIG_NET_SCH_NETEM is not set), so instead of
// `tc qdisc add ... netem delay 25ms` on a veth pair, each side of the emulated link is a TUN
// device placed in its own network namespace, and every IP packet one side sends is written
// to the other side's device after a fixed one-way delay. The kernels at both ends run their
// own TCP stacks, congestion control and windows over it, exactly as over a delayed veth.
//
// Packets keep their order; a direction holding more than QueueLimit packets drops new ones,
// like a netem queue limit.
package wan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	tunSetIff = 0x400454ca // TUNSETIFF
	iffTun    = 0x0001
	iffNoPI   = 0x1000
)

// OpenTUN creates (or attaches to) the TUN device name in the caller's network namespace.
// The device lives as long as the returned file is open; it may be moved to another
// namespace with `ip link set NAME netns NS` while open.
func OpenTUN(name string) (*os.File, error) {
	if len(name) >= 16 {
		return nil, fmt.Errorf("tun name %q too long", name)
	}
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var ifr [40]byte
	copy(ifr[:16], name)
	binary.NativeEndian.PutUint16(ifr[16:], iffTun|iffNoPI)
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafe.Pointer(&ifr[0]))); errno != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, errno)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	// Non-blocking, so os.File uses the runtime poller.
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), nil
}

// Line is a two-way delay line.
type Line struct {
	Delay      time.Duration // one way
	QueueLimit int           // packets per direction; default 100000
	MTU        int           // largest packet; default 65535

	Packets, Dropped atomic.Int64
}

type packet struct {
	due  time.Time
	data []byte
}

// Run forwards a→b and b→a until ctx ends.
func (l *Line) Run(ctx context.Context, a, b *os.File) error {
	if l.QueueLimit == 0 {
		l.QueueLimit = 100000
	}
	if l.MTU == 0 {
		l.MTU = 65535
	}
	stop := context.AfterFunc(ctx, func() { a.Close(); b.Close() })
	defer stop()
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	for _, d := range [][2]*os.File{{a, b}, {b, a}} {
		q := make(chan packet, l.QueueLimit)
		pool := &sync.Pool{New: func() any { return make([]byte, l.MTU) }}
		wg.Go(func() { errc <- l.read(d[0], q, pool) })
		wg.Go(func() { errc <- l.write(d[1], q, pool) })
	}
	err := <-errc
	a.Close()
	b.Close()
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (l *Line) read(src *os.File, q chan<- packet, pool *sync.Pool) error {
	defer close(q)
	for {
		buf := pool.Get().([]byte)
		n, err := src.Read(buf[:cap(buf)])
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read %s: %w", src.Name(), err)
		}
		select {
		case q <- packet{due: time.Now().Add(l.Delay), data: buf[:n]}:
			l.Packets.Add(1)
		default:
			l.Dropped.Add(1)
			pool.Put(buf[:cap(buf)])
		}
	}
}

func (l *Line) write(dst *os.File, q <-chan packet, pool *sync.Pool) error {
	for p := range q {
		if d := time.Until(p.due); d > 0 {
			time.Sleep(d)
		}
		_, err := dst.Write(p.data)
		pool.Put(p.data[:cap(p.data)])
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			// A packet the destination refuses (device still down while the script sets it
			// up) is dropped, as on a wire.
			if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL) {
				l.Dropped.Add(1)
				continue
			}
			return fmt.Errorf("write %s: %w", dst.Name(), err)
		}
	}
	return nil
}
