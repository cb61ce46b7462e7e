//go:build ignore

// Command kubeletcheck runs the steps the kubelet's own command runs before it
// starts (k8s.io/kubernetes/cmd/kubelet/app.NewKubeletCommand): parse the
// flags with the kubelet's flag set, validate them, load the --config file
// through the kubelet's file loader, let flags take precedence, apply feature
// gates, validate logging and finally the KubeletConfiguration. It stops
// there, so nothing on the host is touched. Usage: kubeletcheck [kubelet flags].
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	cliflag "k8s.io/component-base/cli/flag"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/kubernetes/cmd/kubelet/app/options"
	kubeletconfig "k8s.io/kubernetes/pkg/kubelet/apis/config"
	kubeletconfigvalidation "k8s.io/kubernetes/pkg/kubelet/apis/config/validation"
	"k8s.io/kubernetes/pkg/kubelet/eviction"
	"k8s.io/kubernetes/pkg/kubelet/kubeletconfig/configfiles"
	utilfs "k8s.io/kubernetes/pkg/util/filesystem"
)

func main() {
	if err := check(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("kubelet flags and configuration are valid")
}

func newFlagSet(f *options.KubeletFlags, kc *kubeletconfig.KubeletConfiguration) *pflag.FlagSet {
	fs := pflag.NewFlagSet("kubelet", pflag.ContinueOnError)
	fs.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	f.AddFlags(fs)
	options.AddKubeletConfigFlags(fs, kc)
	options.AddGlobalFlags(fs)
	return fs
}

func check(args []string) error {
	ctx := context.Background()
	// The kubelet's command registers the logging feature gates in its
	// package init (cmd/kubelet/app/server.go), which this helper does not
	// import; logging validation panics on an unregistered gate without it.
	utilruntime.Must(logsapi.AddFeatureGates(utilfeature.DefaultMutableFeatureGate))
	flags := options.NewKubeletFlags()
	kc, err := options.NewKubeletConfiguration()
	if err != nil {
		return err
	}
	if err := newFlagSet(flags, kc).Parse(args); err != nil {
		return fmt.Errorf("failed to parse kubelet flag: %w", err)
	}
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(kc.FeatureGates); err != nil {
		return fmt.Errorf("failed to set feature gates from initial flags-based config: %w", err)
	}
	if err := options.ValidateKubeletFlags(flags); err != nil {
		return fmt.Errorf("failed to validate kubelet flags: %w", err)
	}
	if flags.KubeletConfigFile != "" {
		path, err := filepath.Abs(flags.KubeletConfigFile)
		if err != nil {
			return err
		}
		loader, err := configfiles.NewFsLoader(&utilfs.DefaultFs{}, path)
		if err != nil {
			return fmt.Errorf("failed to load kubelet config file, path: %s, error: %w", path, err)
		}
		if kc, err = loader.Load(ctx); err != nil {
			return fmt.Errorf("failed to load kubelet config file, path: %s, error: %w", path, err)
		}
		if kc.EvictionHard == nil {
			kc.EvictionHard = eviction.DefaultEvictionHard
		}
		// Flags win over the file, as in the kubelet (kubernetes#56171).
		original := kc.FeatureGates
		if err := newFlagSet(options.NewKubeletFlags(), kc).Parse(args); err != nil {
			return fmt.Errorf("failed to precedence kubeletConfigFlag: %w", err)
		}
		for k, v := range original {
			if _, ok := kc.FeatureGates[k]; !ok {
				kc.FeatureGates[k] = v
			}
		}
		if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(kc.FeatureGates); err != nil {
			return fmt.Errorf("failed to set feature gates from config file: %w", err)
		}
	}
	if err := logsapi.ValidateAndApplyAsField(&kc.Logging, utilfeature.DefaultFeatureGate, field.NewPath("logging")); err != nil {
		return fmt.Errorf("initialize logging: %v", err)
	}
	if err := kubeletconfigvalidation.ValidateKubeletConfiguration(kc, utilfeature.DefaultFeatureGate); err != nil {
		return fmt.Errorf("failed to validate kubelet configuration, error: %w", err)
	}
	return nil
}
