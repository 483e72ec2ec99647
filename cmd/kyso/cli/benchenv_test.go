package cli

import (
	"slices"
	"testing"
)

func TestBenchRestartsWithMADVFreeAndGivesItsServersTheEnvironmentItWasGiven(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		load    []string // nil: no restart
		servers []string // what the bench that runs (restarted, or as started when load is nil) gives its servers
	}{
		{"no GODEBUG", []string{"A=1"},
			[]string{"A=1", "GODEBUG=madvdontneed=0", "KYSO_BENCH_GODEBUG="}, []string{"A=1"}},
		{"a GODEBUG of the user's", []string{"GODEBUG=gctrace=1", "A=1"},
			[]string{"A=1", "GODEBUG=gctrace=1,madvdontneed=0", "KYSO_BENCH_GODEBUG=gctrace=1"}, []string{"A=1", "GODEBUG=gctrace=1"}},
		{"the user's own madvdontneed", []string{"GODEBUG=madvdontneed=1"}, nil, []string{"GODEBUG=madvdontneed=1"}},
		{"already restarted", []string{"A=1", "GODEBUG=madvdontneed=0", "KYSO_BENCH_GODEBUG="}, nil, []string{"A=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load := loadGeneratorEnv(tc.env)
			if !slices.Equal(load, tc.load) {
				t.Fatalf("restarts with %q, want %q", load, tc.load)
			}
			runs := load
			if load == nil {
				runs = tc.env
			} else if again := loadGeneratorEnv(load); again != nil {
				t.Fatalf("the restarted bench would restart again, with %q", again)
			}
			if got := serverEnv(runs); !slices.Equal(got, tc.servers) {
				t.Fatalf("servers get %q, want %q", got, tc.servers)
			}
		})
	}
}
