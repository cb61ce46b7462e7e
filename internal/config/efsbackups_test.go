package config

import "testing"

// EFS backups are on by default in production and off elsewhere; an
// explicit false in production is kept, with a warning.
func TestEFSBackupsDefaultAndWarning(t *testing.T) {
	for _, env := range []string{"dev", "staging", "prod", "production"} {
		c := &Cluster{Environment: env}
		applyDefaults(c, env, map[string]position{})
		want := env == "prod" || env == "production"
		if c.EFSBackups != want || c.TFVars().EFSBackups != want {
			t.Errorf("%s: efsBackups %v, rendered %v; want %v", env, c.EFSBackups, c.TFVars().EFSBackups, want)
		}
		v := &validator{c: c, set: map[string]position{}}
		v.efsBackups()
		if len(v.warnings) != 0 {
			t.Errorf("%s: warnings %v with the default", env, v.warnings)
		}
	}

	c := &Cluster{Environment: "prod"}
	set := map[string]position{"efsBackups": {}}
	applyDefaults(c, "prod", set)
	if c.EFSBackups {
		t.Fatal("an explicit false in production was replaced by the default")
	}
	v := &validator{c: c, set: set}
	v.efsBackups()
	if len(v.warnings) != 1 || v.warnings[0].Field != "efsBackups" || v.warnings[0].Fix != "set efsBackups: true" {
		t.Errorf("warnings %+v, want one on efsBackups naming the fix", v.warnings)
	}
}
