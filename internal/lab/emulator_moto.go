package lab

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// motoCorrection starts moto_server with the lab's one correction to the
// emulator (docs/EMULATOR-NOTES.md, "CreateLaunchTemplateVersion"): moto
// 5.2.1 stores a template version's user data unwrapped, so every launch
// from version 2+ with user data fails with HTTP 500. Local mode and the
// e2e tests run moto unmodified; only the lab, which boots what a roll
// launches, needs it.
//
//go:embed emulator_moto.py
var motoCorrection []byte

// isPython: the interpreter is Python (python, python3,
// python3.11), by base name.
func isPython(path string) bool {
	return strings.HasPrefix(filepath.Base(path), "python")
}

// motoPython is the Python interpreter that runs the moto_server on PATH:
// the one its shebang names. A pyenv shim (a shell script) is resolved to
// the script it runs with `pyenv which`.
func motoPython(ctx context.Context) (string, error) {
	script, err := exec.LookPath("moto_server")
	if err != nil {
		return "", fmt.Errorf("the lab's emulator: %w", err)
	}
	interp, err := shebang(script)
	if err != nil {
		return "", err
	}
	if !isPython(interp) && isPyenvShim(script) {
		out, err := exec.CommandContext(ctx, "pyenv", "which", "moto_server").Output()
		if err != nil {
			return "", fmt.Errorf("the lab's emulator: %s is a pyenv shim and `pyenv which moto_server` failed: %w", script, err)
		}
		resolved := strings.TrimSpace(string(out))
		if interp, err = shebang(resolved); err != nil {
			return "", err
		}
		script = resolved
	}
	if !isPython(interp) {
		return "", fmt.Errorf("the lab's emulator: %s starts with %q, not a Python interpreter; the lab needs moto_server's Python to apply its correction (install moto with pip so that moto_server is a Python script)", script, interp)
	}
	return interp, nil
}

// shebang returns the interpreter of a script's #! line; "#!/usr/bin/env
// python3" is resolved on PATH.
func shebang(script string) (string, error) {
	f, err := os.Open(script)
	if err != nil {
		return "", fmt.Errorf("the lab's emulator: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("the lab's emulator: reading %s: %w", script, err)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "#!")
	fields := strings.Fields(rest)
	if !ok || len(fields) == 0 {
		return "", fmt.Errorf("the lab's emulator: %s has no #! line naming its interpreter", script)
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		p, err := exec.LookPath(fields[len(fields)-1])
		if err != nil {
			return "", fmt.Errorf("the lab's emulator: %s names %q: %w", script, rest, err)
		}
		return p, nil
	}
	return fields[0], nil
}

func isPyenvShim(script string) bool {
	data, err := os.ReadFile(script)
	return err == nil && strings.Contains(string(data), "pyenv\" exec")
}

// CorrectedMoto writes the correction into dir and checks that it applies
// to the installed moto (version and handler as written for). It returns
// the command that starts moto_server with it: interpreter and arguments,
// moto_server's own arguments to be appended.
func CorrectedMoto(ctx context.Context, dir string) (string, []string, error) {
	return correctedMoto(ctx, dir, motoCorrection)
}

func correctedMoto(ctx context.Context, dir string, correction []byte) (string, []string, error) {
	py, err := motoPython(ctx)
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "emulator_moto.py")
	if err := os.WriteFile(path, correction, 0o644); err != nil {
		return "", nil, fmt.Errorf("the lab's emulator correction: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, path, "--check").CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			return "", nil, errors.New(strings.TrimSpace(string(out)))
		}
		return "", nil, fmt.Errorf("the lab's emulator correction with %s: %w: %s", py, err, strings.TrimSpace(string(out)))
	}
	return py, []string{path}, nil
}
