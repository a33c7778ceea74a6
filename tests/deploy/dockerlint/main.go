// samx-dockerlint checks SAM-X Dockerfiles without a Docker engine: BuildKit's own parser and the
// instruction-level rules of its linter (the ones `docker build --check` reports while parsing), plus
// the rules of the SAM-X images:
//
//	SAMX001 every external base image is pinned (an exact version tag or a digest; never latest or none)
//	SAMX002 the final stage runs as a non-root numeric user (USER uid[:gid], uid >= 1000)
//	SAMX003 no ADD of a URL or git repository (COPY from the context, or a pinned stage)
//	SAMX004 no HEALTHCHECK (Kubernetes probes do that)
//	SAMX005 ENTRYPOINT in exec (JSON) form in the final stage
//	SAMX006 pip install only pinned requirements (name==version), uv sync only --locked or --frozen
//	SAMX007 apt-get install with --no-install-recommends
//	SAMX008 no compilers or build tools installed in the final stage
//
// Usage: samx-dockerlint Dockerfile...   (exit status 1 when a file has findings, 2 when it cannot be read)
package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

type finding struct {
	line int
	rule string
	msg  string
}

var (
	exactTag   = regexp.MustCompile(`^v?\d+(\.\d+)+([-._][A-Za-z0-9.-]+)?$`)
	urlSource  = regexp.MustCompile(`^(https?://|git@|git://)`)
	pinnedPkg  = regexp.MustCompile(`^[A-Za-z0-9_.\[\],-]+==[A-Za-z0-9_.+!-]+$`)
	buildTools = regexp.MustCompile(`^(gcc|g\+\+|clang|make|cmake|build-essential|cargo|rustc|golang(-go)?|[a-z0-9.+-]+-dev)(=.*)?$`)
)

func lintFile(path string) ([]finding, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var out []finding
	for _, w := range res.Warnings {
		out = append(out, finding{w.Location.Start.Line, "BuildKit", w.Short})
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		out = append(out, finding{line, "BuildKit/" + rule, msg})
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return append(out, finding{1, "SAMX000", "no FROM"}), nil
	}

	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
		}
	}
	lex := shell.NewLex('\\')
	names := map[string]bool{}
	for i, st := range stages {
		line := st.Location[0].Start.Line
		base, _, err := lex.ProcessWord(st.BaseName, shell.EnvsFromSlice(envList(args)))
		if err != nil {
			base = st.BaseName
		}
		if !names[strings.ToLower(base)] && base != "scratch" {
			if msg := pinProblem(base); msg != "" {
				out = append(out, finding{line, "SAMX001", fmt.Sprintf("base image %q: %s", base, msg)})
			}
		}
		if st.Name != "" {
			names[strings.ToLower(st.Name)] = true
		}
		final := i == len(stages)-1
		user, entry := "", false
		for _, cmd := range st.Commands {
			cline := lineOf(cmd)
			switch c := cmd.(type) {
			case *instructions.UserCommand:
				user = c.User
			case *instructions.AddCommand:
				for _, src := range c.SourcePaths {
					if urlSource.MatchString(src) {
						out = append(out, finding{cline, "SAMX003", "ADD of a URL: " + src})
					}
				}
			case *instructions.HealthCheckCommand:
				out = append(out, finding{cline, "SAMX004", "HEALTHCHECK: Kubernetes probes check health"})
			case *instructions.EntrypointCommand:
				entry = !c.PrependShell
			case *instructions.RunCommand:
				out = append(out, runProblems(cline, strings.Join(c.CmdLine, " "), final)...)
			}
		}
		if final {
			if msg := userProblem(user); msg != "" {
				out = append(out, finding{line, "SAMX002", msg})
			}
			if !entry {
				out = append(out, finding{line, "SAMX005", "the final stage needs an ENTRYPOINT in exec form"})
			}
		}
	}
	return out, nil
}

func envList(m map[string]string) []string {
	var l []string
	for k, v := range m {
		l = append(l, k+"="+v)
	}
	return l
}

func lineOf(cmd instructions.Command) int {
	if l := cmd.Location(); len(l) > 0 {
		return l[0].Start.Line
	}
	return 0
}

func pinProblem(ref string) string {
	if ref == "" {
		return "empty (an ARG without a default?)"
	}
	if strings.Contains(ref, "@sha256:") {
		return ""
	}
	name := ref
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		name = ref[i+1:]
	}
	i := strings.LastIndex(name, ":")
	if i < 0 {
		return "no tag (means latest); pin an exact version or a digest"
	}
	tag := name[i+1:]
	if tag == "latest" || !exactTag.MatchString(tag) {
		return "tag " + strconv.Quote(tag) + " is not an exact version; pin one (e.g. 3.11.14-slim-bookworm) or a digest"
	}
	return ""
}

func userProblem(user string) string {
	if user == "" {
		return "the final stage has no USER: it would run as root"
	}
	uid := strings.SplitN(user, ":", 2)[0]
	n, err := strconv.Atoi(uid)
	if err != nil {
		return "USER " + user + ": use a numeric uid so that Kubernetes can verify runAsNonRoot"
	}
	if n < 1000 {
		return "USER " + user + ": a uid below 1000 (0 is root)"
	}
	return ""
}

func runProblems(line int, cmdline string, final bool) []finding {
	var out []finding
	for _, part := range regexp.MustCompile(`&&|;|\|\|`).Split(cmdline, -1) {
		words := strings.Fields(part)
		if len(words) == 0 {
			continue
		}
		joined := strings.Join(words, " ")
		switch {
		case strings.Contains(joined, "pip install") || strings.Contains(joined, "pip3 install"):
			for _, w := range words[2:] {
				if strings.HasPrefix(w, "-") || w == "install" {
					continue
				}
				if !pinnedPkg.MatchString(w) {
					out = append(out, finding{line, "SAMX006", "pip install of an unpinned requirement: " + w})
				}
			}
		case strings.Contains(joined, "uv sync"):
			if !strings.Contains(joined, "--locked") && !strings.Contains(joined, "--frozen") {
				out = append(out, finding{line, "SAMX006", "uv sync without --locked or --frozen"})
			}
		case strings.Contains(joined, "apt-get install"):
			if !strings.Contains(joined, "--no-install-recommends") {
				out = append(out, finding{line, "SAMX007", "apt-get install without --no-install-recommends"})
			}
			if final {
				for _, w := range words {
					if buildTools.MatchString(w) {
						out = append(out, finding{line, "SAMX008", "build tool in the final stage: " + w})
					}
				}
			}
		}
	}
	return out
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: samx-dockerlint Dockerfile...")
		os.Exit(2)
	}
	status := 0
	for _, path := range os.Args[1:] {
		findings, err := lintFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(2)
		}
		for _, f := range findings {
			fmt.Printf("%s:%d: %s: %s\n", path, f.line, f.rule, f.msg)
			status = 1
		}
		if len(findings) == 0 {
			fmt.Printf("%s: ok\n", path)
		}
	}
	os.Exit(status)
}
