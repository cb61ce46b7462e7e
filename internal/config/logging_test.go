package config

import (
	"strings"
	"testing"
)

// Audit trails are on by default in production and off elsewhere; turning
// them off in production warns, a retention outside 1-3650 days is an error.
func TestLoggingDefaultsAndRules(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		c := &Cluster{Environment: env}
		applyDefaults(c, env, map[string]position{})
		want := env == "prod"
		if c.Logging.VPCFlowLogs != want || c.Logging.BucketAccessLogs != want || c.Logging.RetentionDays != DefaultLogRetentionDays {
			t.Errorf("%s: logging defaults %+v, want flow and access logs %v, %d days", env, c.Logging, want, DefaultLogRetentionDays)
		}
		vars := c.TFVars()
		if vars.VPCFlowLogs != want || vars.CertsBucketAccessLogs != want || vars.LogRetentionDays != DefaultLogRetentionDays {
			t.Errorf("%s: rendered %v %v %v", env, vars.VPCFlowLogs, vars.CertsBucketAccessLogs, vars.LogRetentionDays)
		}
	}

	// An explicit false in production is kept, with a warning each.
	c := &Cluster{Environment: "prod"}
	set := map[string]position{"logging.vpcFlowLogs": {}, "logging.bucketAccessLogs": {}}
	applyDefaults(c, "prod", set)
	if c.Logging.VPCFlowLogs || c.Logging.BucketAccessLogs {
		t.Fatalf("explicit false replaced by the default: %+v", c.Logging)
	}
	v := &validator{c: c, set: set}
	v.logging()
	var warned []string
	for _, w := range v.warnings {
		warned = append(warned, w.Field)
	}
	if strings.Join(warned, ",") != "logging.vpcFlowLogs,logging.bucketAccessLogs" {
		t.Errorf("warnings on %v, want both logging switches", warned)
	}

	for _, days := range []int{0, 3651} {
		c := &Cluster{Environment: "dev", Logging: Logging{RetentionDays: days}}
		v := &validator{c: c, set: map[string]position{}}
		v.logging()
		if len(v.errs) != 1 || v.errs[0].Field != "logging.retentionDays" {
			t.Errorf("retention %d: errors %v, want one on logging.retentionDays", days, v.errs)
		}
	}
}
