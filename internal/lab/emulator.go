package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"time"
)

// EmulatorPort is the emulator's port inside the VPC.
const EmulatorPort = 5000

// Emulator is moto_server serving inside the lab VPC. Nodes reach it at
// VPCURL; the host (kforge itself) reaches it at URL, a loopback forward.
type Emulator struct {
	URL    string
	VPCURL string
	svc    *Service
	fwd    *Forward
}

// StartEmulator runs moto_server (with the lab's correction:
// emulator_moto.go) on addr inside the VPC namespace and
// forwards a loopback port to it. Close stops both (Lab.Close does too).
func (l *Lab) StartEmulator(ctx context.Context, addr netip.Addr, env []string) (*Emulator, error) {
	if err := l.Net.AddAddress(ctx, addr); err != nil {
		return nil, err
	}
	// moto_server with the lab's correction (emulator_moto.go), through
	// the interpreter of the moto_server on PATH.
	py, args, err := CorrectedMoto(ctx, l.RunDir)
	if err != nil {
		return nil, err
	}
	svc, err := StartService(l.Net.NS, "emulator", filepath.Join(l.RunDir, "emulator.log"), env,
		py, append(args, "-H", addr.String(), "-p", fmt.Sprint(EmulatorPort))...)
	if err != nil {
		return nil, err
	}
	fwd, err := NewForward(l.Net.NS, fmt.Sprintf("%s:%d", addr, EmulatorPort))
	if err != nil {
		_ = svc.Stop(ctx)
		return nil, err
	}
	e := &Emulator{URL: "http://" + fwd.Addr(), VPCURL: fmt.Sprintf("http://%s:%d", addr, EmulatorPort), svc: svc, fwd: fwd}
	l.OnClose(e.Close)
	if err := e.waitReady(ctx); err != nil {
		_ = e.Close(ctx)
		return nil, err
	}
	return e, nil
}

func (e *Emulator) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if exited, err := e.svc.Exited(); exited {
			return fmt.Errorf("moto_server exited in the lab VPC (%v): %s", err, tail(e.svc.Log, 1500))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("moto_server did not answer in the lab VPC within 60s: %s", tail(e.svc.Log, 1500))
}

// Close stops the forward and the emulator.
func (e *Emulator) Close(ctx context.Context) error {
	if e.fwd != nil {
		e.fwd.Close()
	}
	return e.svc.Stop(ctx)
}
