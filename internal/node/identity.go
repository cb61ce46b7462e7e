package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// A joining worker proves which instance it is, and that the kubelet key
// its client CSR carries is its own, the way kOps' node verifier and the
// EKS authenticator do: it signs an STS GetCallerIdentity request with its
// instance role's credentials, with the key's digest in a signed header,
// and hands over only the signature headers. The control plane sends that
// request itself, to STS, with the digest of the key in the CSR it is
// asked to approve: STS answers with the caller's ARN only when the
// signature covers exactly that digest, and EC2 names an instance role's
// session after the instance (assumed-role/<role>/<instance id>). The
// request is worthless to anyone else: it proves who signed it, for one
// key, for the 15 minutes STS accepts a signature's date, and carries no
// secret (the session token is useless without the secret key it pairs
// with).

// kubeletKeyHeader carries the digest of the kubelet's public key in the
// signed request.
const kubeletKeyHeader = "X-Kforge-Kubelet-Key"

// getCallerIdentityBody is the one request a proof may be.
const getCallerIdentityBody = "Action=GetCallerIdentity&Version=2011-06-15"

// IdentityProof is the signature headers of a GetCallerIdentity request;
// the control plane rebuilds the rest.
type IdentityProof struct {
	// KeyDigest is the digest the request was signed for. The verifier
	// compares it with the key it is asked about before it sends the
	// request; STS then checks that the signature covers it.
	KeyDigest     string `json:"key_digest"`
	Authorization string `json:"authorization"`
	Date          string `json:"x_amz_date"`
	SecurityToken string `json:"x_amz_security_token,omitempty"`
}

// KeyDigest is how a proof names a public key (PKIX DER): "sha256:<hex>".
func KeyDigest(publicKeyDER []byte) string {
	sum := sha256.Sum256(publicKeyDER)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// STSEndpoint is the STS endpoint both sides use for region: the SDK's
// regional endpoint of the region's partition, or endpoint (an emulator)
// when set. Signer and verifier must agree, as the host is signed.
func STSEndpoint(ctx context.Context, region, endpoint string) (string, error) {
	params := sts.EndpointParameters{Region: aws.String(region), UseGlobalEndpoint: aws.Bool(false)}
	if endpoint != "" {
		params.Endpoint = aws.String(endpoint)
	}
	e, err := sts.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, params)
	if err != nil {
		return "", fmt.Errorf("resolving the STS endpoint of %s: %w", region, err)
	}
	return e.URI.String(), nil
}

// identityRequest is the GetCallerIdentity request for a key digest.
func identityRequest(ctx context.Context, endpoint, keyDigest string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(getCallerIdentityBody))
	if err != nil {
		return nil, fmt.Errorf("building the identity request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set(kubeletKeyHeader, keyDigest)
	return req, nil
}

// IdentityProver signs a proof of this instance's identity for a key.
type IdentityProver interface {
	ProveIdentity(ctx context.Context, keyDigest string) (IdentityProof, error)
}

// STSIdentityProver signs with the instance role's credentials.
type STSIdentityProver struct {
	Credentials aws.CredentialsProvider
	Region      string
	// Endpoint is the AWS endpoint (an emulator), empty on AWS.
	Endpoint string
}

// ProveIdentity signs the GetCallerIdentity request for keyDigest.
func (p STSIdentityProver) ProveIdentity(ctx context.Context, keyDigest string) (IdentityProof, error) {
	endpoint, err := STSEndpoint(ctx, p.Region, p.Endpoint)
	if err != nil {
		return IdentityProof{}, err
	}
	req, err := identityRequest(ctx, endpoint, keyDigest)
	if err != nil {
		return IdentityProof{}, err
	}
	creds, err := p.Credentials.Retrieve(ctx)
	if err != nil {
		return IdentityProof{}, fmt.Errorf("the instance role's credentials: %w", err)
	}
	sum := sha256.Sum256([]byte(getCallerIdentityBody))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sts", p.Region, time.Now().UTC()); err != nil {
		return IdentityProof{}, fmt.Errorf("signing the identity request: %w", err)
	}
	return IdentityProof{
		KeyDigest:     keyDigest,
		Authorization: req.Header.Get("Authorization"),
		Date:          req.Header.Get("X-Amz-Date"),
		SecurityToken: req.Header.Get("X-Amz-Security-Token"),
	}, nil
}

// IdentityVerifier returns the ARN STS gives the signer of proof for
// keyDigest, or why it gives none.
type IdentityVerifier interface {
	VerifyIdentity(ctx context.Context, proof IdentityProof, keyDigest string) (string, error)
}

// STSIdentityVerifier sends proofs to STS, never to an address a proof
// names.
type STSIdentityVerifier struct {
	Region string
	// Endpoint is the AWS endpoint (an emulator), empty on AWS.
	Endpoint string
	// HTTP is the client; nil means one with a 30-second timeout.
	HTTP *http.Client
}

// VerifyIdentity sends the request proof signed, with keyDigest in its
// header, to STS.
func (v STSIdentityVerifier) VerifyIdentity(ctx context.Context, proof IdentityProof, keyDigest string) (string, error) {
	if proof.KeyDigest != keyDigest {
		return "", fmt.Errorf("the proof was signed for the key %s, not this request's %s", proof.KeyDigest, keyDigest)
	}
	if !signedHeaders(proof.Authorization)[strings.ToLower(kubeletKeyHeader)] {
		// Unsigned, the header could carry any key.
		return "", fmt.Errorf("the proof's signature does not cover %s", kubeletKeyHeader)
	}
	endpoint, err := STSEndpoint(ctx, v.Region, v.Endpoint)
	if err != nil {
		return "", err
	}
	req, err := identityRequest(ctx, endpoint, keyDigest)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", proof.Authorization)
	req.Header.Set("X-Amz-Date", proof.Date)
	if proof.SecurityToken != "" {
		req.Header.Set("X-Amz-Security-Token", proof.SecurityToken)
	}
	client := v.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("sending the proof to STS: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("reading STS's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		_ = xml.Unmarshal(body, &e)
		return "", fmt.Errorf("STS refused the proof: HTTP %d %s %s", resp.StatusCode, e.Code, e.Message)
	}
	var ok struct {
		ARN string `xml:"GetCallerIdentityResult>Arn"`
	}
	if err := xml.Unmarshal(body, &ok); err != nil || ok.ARN == "" {
		return "", fmt.Errorf("STS's answer names no caller ARN (%v)", err)
	}
	return ok.ARN, nil
}

// signedHeaders is the set of header names a SigV4 Authorization header
// says it signed.
func signedHeaders(authorization string) map[string]bool {
	set := map[string]bool{}
	for _, part := range strings.Split(authorization, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "SignedHeaders="); ok {
			for _, h := range strings.Split(v, ";") {
				set[h] = true
			}
		}
	}
	return set
}

// CheckWorkerIdentity returns nil when caller, the ARN STS named, is a
// session of the worker role (workerRoleARN) named after instanceID, as
// EC2 names the sessions of an instance's role. Only EC2 may assume the
// worker role (its trust policy), so no one else can name a session after
// an instance.
func CheckWorkerIdentity(caller, workerRoleARN, instanceID string) error {
	role, err := arn.Parse(workerRoleARN)
	if err != nil {
		return fmt.Errorf("worker role ARN %q: %w", workerRoleARN, err)
	}
	roleName := role.Resource[strings.LastIndex(role.Resource, "/")+1:]
	got, err := arn.Parse(caller)
	if err != nil {
		return fmt.Errorf("caller ARN %q: %w", caller, err)
	}
	want := "assumed-role/" + roleName + "/" + instanceID
	if got.Service != "sts" || got.Partition != role.Partition || got.AccountID != role.AccountID || got.Resource != want {
		return fmt.Errorf("the proof was signed by %s, not by %s's session of the worker role (%s in account %s)", caller, instanceID, roleName, role.AccountID)
	}
	return nil
}

// errNoIdentityProof means a kubelet client CSR carries no proof.
var errNoIdentityProof = errors.New("no proof of the instance's identity on the request (annotation " + IdentityProofAnnotation + ", which the worker's agent of this kforge build sets)")
