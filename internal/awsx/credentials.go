package awsx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoCredentials is wrapped by the error Config returns when no usable AWS
// credentials were found for real AWS.
var ErrNoCredentials = errors.New("no AWS credentials")

// CredentialsError says that no usable AWS credentials were found, how to
// provide them, and that local mode needs none. The SDK's chain of causes is
// shown only when the user configured something that failed (a profile whose
// SSO session expired, say): with nothing configured it is noise about
// instance metadata.
type CredentialsError struct {
	// Configured names what the user set up (a profile, environment
	// variables, shared files); empty when nothing was found at all.
	Configured string
	Cause      error
}

func (e *CredentialsError) Error() string {
	var b strings.Builder
	if e.Configured == "" {
		b.WriteString("no AWS credentials were found (no environment variables, profile, SSO session or instance role).\n")
	} else {
		fmt.Fprintf(&b, "no usable AWS credentials were found: %s could not be used: %v\n", e.Configured, e.Cause)
	}
	b.WriteString(`Provide them in one of these ways:
  - a profile: aws configure --profile NAME, then export AWS_PROFILE=NAME
  - environment variables: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)
  - SSO (IAM Identity Center): aws configure sso, then aws sso login --profile NAME and export AWS_PROFILE=NAME
` + "`kforge up local` needs no credentials: it runs the whole cluster's infrastructure on a local AWS emulator.")
	return b.String()
}

func (e *CredentialsError) Unwrap() []error { return []error{ErrNoCredentials, e.Cause} }

// configuredCredentials names the credential sources the user set up, as far
// as the environment and the shared files tell.
func configuredCredentials() string {
	var found []string
	if p := os.Getenv("AWS_PROFILE"); p != "" {
		found = append(found, fmt.Sprintf("profile %q", p))
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") != "" || os.Getenv("AWS_SECRET_ACCESS_KEY") != "" {
		found = append(found, "the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment variables")
	}
	if os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "" {
		found = append(found, "AWS_WEB_IDENTITY_TOKEN_FILE")
	}
	home, _ := os.UserHomeDir()
	for _, f := range []struct{ env, def string }{
		{"AWS_CONFIG_FILE", filepath.Join(home, ".aws", "config")},
		{"AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, ".aws", "credentials")},
	} {
		path := os.Getenv(f.env)
		if path == "" {
			path = f.def
		}
		if st, err := os.Stat(path); err == nil && st.Size() > 0 && len(found) == 0 {
			found = append(found, "the default profile in "+path)
		}
	}
	return strings.Join(found, " and ")
}
