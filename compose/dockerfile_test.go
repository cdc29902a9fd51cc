package compose

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, USER, ...
	args string
}

type stage struct {
	from, name string
	body       []instruction
}

// parseDockerfile splits a Dockerfile into stages. It understands what the
// project's Dockerfiles use: comments, parser directives, backslash
// continuations, FROM ... AS name.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		stages  []stage
		pending string
	)
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if pending == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			pending += strings.TrimSpace(strings.TrimSuffix(trimmed, "\\")) + " "
			continue
		}
		full := pending + trimmed
		pending = ""
		cmd, args, _ := strings.Cut(full, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", path, in.cmd)
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	return stages
}

var outFlag = regexp.MustCompile(`-o\s+(\S+)`)

func TestDockerfilesBuildStaticBinaries(t *testing.T) {
	for _, tc := range []struct {
		dockerfile, binary string
	}{
		{"../Dockerfile", "replicator"},
		{"emulator.Dockerfile", "emulator"},
	} {
		t.Run(tc.binary, func(t *testing.T) {
			bin := buildFromDockerfile(t, tc.dockerfile, tc.binary)
			assertStatic(t, bin)
		})
	}
}

// buildFromDockerfile checks the Dockerfile's shape — multi-stage, a final
// stage that runs as a non-root user and copies the binary from the build
// stage, CGO off — then runs the build stage's own `go build` command here,
// with -o pointed into a temporary directory, and returns the binary.
func buildFromDockerfile(t *testing.T, dockerfile, binary string) string {
	t.Helper()
	stages := parseDockerfile(t, dockerfile)
	if len(stages) < 2 {
		t.Fatalf("%s has %d stage(s); want a multi-stage build", dockerfile, len(stages))
	}
	final := stages[len(stages)-1]

	// The final stage runs as a non-root user.
	user := ""
	for _, in := range final.body {
		if in.cmd == "USER" {
			user = in.args
		}
	}
	if name, _, _ := strings.Cut(user, ":"); user == "" || name == "root" || name == "0" {
		t.Errorf("%s: final stage USER = %q; want a non-root user", dockerfile, user)
	}

	// The build stage's go build, statically linked.
	var build string
	var buildStage stage
	for _, s := range stages[:len(stages)-1] {
		for _, in := range s.body {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
				build, buildStage = in.args, s
			}
		}
	}
	if build == "" {
		t.Fatalf("no RUN ... go build in a build stage of %s", dockerfile)
	}
	cgoOff := strings.Contains(build, "CGO_ENABLED=0")
	for _, in := range buildStage.body {
		if in.cmd == "ENV" && strings.Contains(in.args, "CGO_ENABLED=0") {
			cgoOff = true
		}
	}
	if !cgoOff {
		t.Errorf("%s: build does not set CGO_ENABLED=0: %s", dockerfile, build)
	}
	m := outFlag.FindStringSubmatch(build)
	if m == nil {
		t.Fatalf("%s: go build has no -o: %s", dockerfile, build)
	}
	out := m[1]

	// The final stage copies that binary from the build stage.
	copied := false
	for _, in := range final.body {
		if in.cmd == "COPY" && strings.Contains(in.args, "--from="+buildStage.name) && strings.Contains(in.args, out) {
			copied = true
		}
	}
	if !copied {
		t.Errorf("%s: final stage does not COPY --from=%s %s", dockerfile, buildStage.name, out)
	}

	// Run the very command here, into a temporary directory.
	bin := filepath.Join(t.TempDir(), binary)
	cmdline := strings.Replace(build, m[0], "-o "+bin, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("sh not installed: %v", err)
	}
	cmd := exec.CommandContext(ctx, sh, "-c", cmdline)
	cmd.Dir = ".." // the Dockerfiles' build context: the repository root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	return bin
}

// assertStatic fails unless path is an ELF executable with no program
// interpreter and no shared-library dependencies.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter (PT_INTERP): dynamically linked", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", path, libs)
	}
}

func TestParseDockerfile(t *testing.T) {
	// The parser itself, on the shapes it must get right.
	dir := t.TempDir()
	p := filepath.Join(dir, "Dockerfile")
	src := "# syntax=docker/dockerfile:1\nFROM golang:1.26 AS build\nRUN CGO_ENABLED=0 \\\n    go build -o /out/x ./cmd/x\n\nFROM scratch\nCOPY --from=build /out/x /x\nUSER 65532:65532\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s := parseDockerfile(t, p)
	if len(s) != 2 || s[0].name != "build" || s[1].from != "scratch" {
		t.Fatalf("stages = %+v", s)
	}
	if got := s[0].body[0].args; got != "CGO_ENABLED=0 go build -o /out/x ./cmd/x" {
		t.Errorf("continuation joined as %q", got)
	}
	if s[1].body[1].cmd != "USER" || s[1].body[1].args != "65532:65532" {
		t.Errorf("final body = %+v", s[1].body)
	}
}
