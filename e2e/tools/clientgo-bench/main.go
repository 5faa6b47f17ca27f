// Command clientgo-bench is a test tool, not product code: the client-go anchor for MC's informer
// benchmark. It seeds a namespace with ConfigMaps and custom Widget objects, measures how long a
// client-go informer takes to list+watch them into its store and how much memory that costs, and
// cleans up again.
//
//	clientgo-bench crd      [--kubeconfig F]
//	clientgo-bench seed     [--kubeconfig F] --namespace NS --configmaps N --custom N [--size 1024] [--crd]
//	clientgo-bench informer [--kubeconfig F] --namespace NS --resource configmaps|widgets --expect N
//	clientgo-bench cleanup  [--kubeconfig F] --namespace NS [--wait] [--crd]
//
// `informer` prints one line of JSON on stdout; everything else it says goes to stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// The benchmark CRD; bench/widget-crd.yaml in the repository is the same object as YAML.
const (
	widgetGroup    = "bench.mc.maestro.dev"
	widgetVersion  = "v1"
	widgetKind     = "Widget"
	widgetPlural   = "widgets"
	widgetSingular = "widget"
	widgetCRDName  = widgetPlural + "." + widgetGroup
)

var (
	widgetGVR = schema.GroupVersionResource{Group: widgetGroup, Version: widgetVersion, Resource: widgetPlural}
	crdGVR    = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

func usage() {
	fmt.Fprint(os.Stderr, `usage: clientgo-bench COMMAND [flags]

commands:
  crd       apply the Widget CRD (bench.mc.maestro.dev/v1) and wait until it is Established
  seed      create a namespace with N ConfigMaps and N Widgets (idempotent)
  informer  time a client-go informer's sync of one resource; print one line of JSON
  cleanup   delete the namespace (and, with --crd, the Widget CRD)

Run "clientgo-bench COMMAND -h" for a command's flags.
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "crd":
		err = runCRD(args)
	case "seed":
		err = runSeed(args)
	case "informer":
		err = runInformer(args)
	case "cleanup":
		err = runCleanup(args)
	case "-h", "-help", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "clientgo-bench: unknown command %q\n", cmd)
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "clientgo-bench %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------------------------------------
// Clients.

type clientFlags struct {
	kubeconfig string
	qps        float64
	burst      int
}

func addClientFlags(fs *flag.FlagSet, c *clientFlags, qps float64, burst int) {
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	fs.Float64Var(&c.qps, "qps", qps, "client-side rate limit, requests per second")
	fs.IntVar(&c.burst, "burst", burst, "client-side rate limit burst")
}

// restConfig loads the kubeconfig as kubectl would; TLS verification stays as the file says.
func (c *clientFlags) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if c.kubeconfig != "" {
		rules.ExplicitPath = c.kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS = float32(c.qps)
	cfg.Burst = c.burst
	cfg.UserAgent = "clientgo-bench"
	return cfg, nil
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// crd

func widgetCRD() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]interface{}{"name": widgetCRDName},
		"spec": map[string]interface{}{
			"group": widgetGroup,
			"scope": "Namespaced",
			"names": map[string]interface{}{
				"kind":     widgetKind,
				"listKind": widgetKind + "List",
				"plural":   widgetPlural,
				"singular": widgetSingular,
			},
			"versions": []interface{}{map[string]interface{}{
				"name":    widgetVersion,
				"served":  true,
				"storage": true,
				"schema": map[string]interface{}{
					"openAPIV3Schema": map[string]interface{}{
						"type": "object",
						"properties": map[string]interface{}{
							"spec": map[string]interface{}{
								"type":                                 "object",
								"x-kubernetes-preserve-unknown-fields": true,
							},
						},
					},
				},
			}},
		},
	}}
}

func runCRD(args []string) error {
	fs := flag.NewFlagSet("crd", flag.ExitOnError)
	var cf clientFlags
	addClientFlags(fs, &cf, 50, 100)
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for the CRD to be Established")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := cf.restConfig()
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return applyCRD(context.Background(), dyn, *timeout)
}

// applyCRD creates the Widget CRD if missing, waits until it is Established and the widgets
// endpoint answers.
func applyCRD(ctx context.Context, dyn dynamic.Interface, timeout time.Duration) error {
	start := time.Now()
	_, err := dyn.Resource(crdGVR).Create(ctx, widgetCRD(), metav1.CreateOptions{})
	switch {
	case err == nil:
		logf("created CRD %s", widgetCRDName)
	case apierrors.IsAlreadyExists(err):
		logf("CRD %s already exists", widgetCRDName)
	default:
		return fmt.Errorf("creating CRD %s: %w", widgetCRDName, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		crd, err := dyn.Resource(crdGVR).Get(ctx, widgetCRDName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if !crdEstablished(crd) {
			return false, nil
		}
		// Established can come a moment before the new endpoint serves requests.
		_, err = dyn.Resource(widgetGVR).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("CRD %s not Established within %s: %w", widgetCRDName, timeout, err)
	}
	logf("CRD %s established in %.2f s", widgetCRDName, time.Since(start).Seconds())
	return nil
}

func crdEstablished(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]interface{})
		if ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------------------------
// seed

func configMapName(i int) string { return fmt.Sprintf("bench-cm-%05d", i) }
func widgetName(i int) string    { return fmt.Sprintf("bench-widget-%05d", i) }

// payload is size bytes of printable ASCII that differ from object to object.
func payload(i, size int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b strings.Builder
	b.Grow(size)
	x := uint32(i)*2654435761 + 1
	for b.Len() < size {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(alphabet[x%uint32(len(alphabet))])
	}
	return b.String()
}

func newConfigMap(ns string, i, size int) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      configMapName(i),
			Namespace: ns,
			Labels:    map[string]string{"app.kubernetes.io/part-of": "mc-bench"},
		},
		Data: map[string]string{"payload": payload(i, size)},
	}
}

func newWidget(ns string, i int) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": widgetGroup + "/" + widgetVersion,
		"kind":       widgetKind,
		"metadata": map[string]interface{}{
			"name":      widgetName(i),
			"namespace": ns,
			"labels":    map[string]interface{}{"app.kubernetes.io/part-of": "mc-bench"},
		},
		"spec": map[string]interface{}{
			"index":    int64(i),
			"color":    []string{"red", "green", "blue"}[i%3],
			"replicas": int64(1 + i%5),
			"enabled":  i%2 == 0,
		},
	}}
}

type seedCounts struct {
	created, existing atomic.Int64
}

// existingNames lists the names already in the namespace, a page at a time, so a second seed
// skips them instead of sending thousands of creates that end in AlreadyExists.
func existingNames(ctx context.Context, list func(ctx context.Context, opts metav1.ListOptions) ([]string, string, error)) (map[string]bool, error) {
	names := map[string]bool{}
	opts := metav1.ListOptions{Limit: 500}
	for {
		page, next, err := list(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, n := range page {
			names[n] = true
		}
		if next == "" {
			return names, nil
		}
		opts.Continue = next
	}
}

// createAll runs create(i) for i in [0, n) on workers goroutines. AlreadyExists counts as done;
// throttling and timeouts are retried a few times; the first other error stops the run.
func createAll(ctx context.Context, what string, n, workers int, exists func(i int) bool, create func(ctx context.Context, i int) error) (*seedCounts, error) {
	var counts seedCounts
	todo := make([]int, 0, n)
	for i := 0; i < n; i++ {
		if exists(i) {
			counts.existing.Add(1)
		} else {
			todo = append(todo, i)
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(todo) || ctx.Err() != nil {
					return
				}
				i := todo[k]
				var err error
				for attempt := 0; attempt < 5; attempt++ {
					err = create(ctx, i)
					if !retriable(err) {
						break
					}
					time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
				}
				switch {
				case err == nil:
					counts.created.Add(1)
				case apierrors.IsAlreadyExists(err):
					counts.existing.Add(1)
				default:
					cancel(fmt.Errorf("%s #%d: %w", what, i, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return &counts, err
	}
	return &counts, nil
}

func retriable(err error) bool {
	return err != nil && (apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err))
}

func runSeed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	var cf clientFlags
	// High enough that the apiserver, not the client, limits the rate (16 workers reach ~1,000/s
	// on a 2-core local control plane; 500 QPS halved that).
	addClientFlags(fs, &cf, 2000, 4000)
	ns := fs.String("namespace", "", "namespace to fill (created if missing)")
	nCM := fs.Int("configmaps", 10000, "number of ConfigMaps")
	nCustom := fs.Int("custom", 10000, "number of Widget custom objects")
	size := fs.Int("size", 1024, "bytes of data in each ConfigMap")
	workers := fs.Int("workers", 16, "concurrent creates")
	withCRD := fs.Bool("crd", false, "apply the Widget CRD first and wait until it is Established")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ns == "" {
		return errors.New("--namespace is required")
	}
	if *workers < 1 {
		*workers = 1
	}
	cfg, err := cf.restConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()

	if *withCRD {
		if err := applyCRD(ctx, dyn, 60*time.Second); err != nil {
			return err
		}
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: *ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", *ns, err)
	}

	cmStart := time.Now()
	haveCM, err := existingNames(ctx, func(ctx context.Context, opts metav1.ListOptions) ([]string, string, error) {
		l, err := cs.CoreV1().ConfigMaps(*ns).List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		names := make([]string, 0, len(l.Items))
		for _, o := range l.Items {
			names = append(names, o.Name)
		}
		return names, l.Continue, nil
	})
	if err != nil {
		return fmt.Errorf("listing configmaps: %w", err)
	}
	cmExists := func(i int) bool { return haveCM[configMapName(i)] }
	cmCounts, err := createAll(ctx, "configmap", *nCM, *workers, cmExists, func(ctx context.Context, i int) error {
		_, err := cs.CoreV1().ConfigMaps(*ns).Create(ctx, newConfigMap(*ns, i, *size), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	cmSeconds := time.Since(cmStart).Seconds()
	logf("configmaps: %d created, %d already there, %.2f s", cmCounts.created.Load(), cmCounts.existing.Load(), cmSeconds)

	wStart := time.Now()
	haveW, err := existingNames(ctx, func(ctx context.Context, opts metav1.ListOptions) ([]string, string, error) {
		l, err := dyn.Resource(widgetGVR).Namespace(*ns).List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		names := make([]string, 0, len(l.Items))
		for _, o := range l.Items {
			names = append(names, o.GetName())
		}
		return names, l.GetContinue(), nil
	})
	if err != nil {
		return fmt.Errorf("listing widgets (is the CRD applied? use --crd): %w", err)
	}
	wExists := func(i int) bool { return haveW[widgetName(i)] }
	wCounts, err := createAll(ctx, "widget", *nCustom, *workers, wExists, func(ctx context.Context, i int) error {
		_, err := dyn.Resource(widgetGVR).Namespace(*ns).Create(ctx, newWidget(*ns, i), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	wSeconds := time.Since(wStart).Seconds()
	logf("widgets: %d created, %d already there, %.2f s", wCounts.created.Load(), wCounts.existing.Load(), wSeconds)

	return printJSON(struct {
		Namespace         string  `json:"namespace"`
		ConfigMaps        int     `json:"configmaps"`
		ConfigMapsCreated int64   `json:"configmaps_created"`
		ConfigMapSeconds  float64 `json:"configmaps_seconds"`
		Widgets           int     `json:"widgets"`
		WidgetsCreated    int64   `json:"widgets_created"`
		WidgetSeconds     float64 `json:"widgets_seconds"`
		Seconds           float64 `json:"seconds"`
	}{*ns, *nCM, cmCounts.created.Load(), round3(cmSeconds), *nCustom, wCounts.created.Load(), round3(wSeconds),
		round3(time.Since(start).Seconds())})
}

// ---------------------------------------------------------------------------------------------
// informer

type informerResult struct {
	Impl             string  `json:"impl"`
	Resource         string  `json:"resource"`
	Objects          int     `json:"objects"`
	SyncSeconds      float64 `json:"sync_seconds"`
	RSSBytes         int64   `json:"rss_bytes"`
	RSSBaselineBytes int64   `json:"rss_baseline_bytes"`
	HeapInuseBytes   uint64  `json:"heap_inuse_bytes"`
	BytesPerObject   int64   `json:"bytes_per_object"`
}

func runInformer(args []string) error {
	fs := flag.NewFlagSet("informer", flag.ExitOnError)
	var cf clientFlags
	// client-go's own defaults (5 QPS, burst 10): an informer makes one list and one watch.
	addClientFlags(fs, &cf, 5, 10)
	ns := fs.String("namespace", "", "namespace to watch")
	resource := fs.String("resource", "configmaps", "configmaps or widgets")
	expect := fs.Int("expect", 0, "wait until the store holds at least this many objects")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up when not synced by then")
	protobuf := fs.Bool("protobuf", false, "configmaps only: ask for protobuf instead of client-go's default JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ns == "" {
		return errors.New("--namespace is required")
	}
	if *resource != "configmaps" && *resource != "widgets" {
		return fmt.Errorf("--resource must be configmaps or widgets, not %q", *resource)
	}
	cfg, err := cf.restConfig()
	if err != nil {
		return err
	}
	if *protobuf {
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	}

	// Build the informer (not yet started) so the baseline holds the clients and the scheme.
	stop := make(chan struct{})
	var (
		inf   cache.SharedIndexInformer
		start func()
	)
	switch *resource {
	case "configmaps":
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(*ns))
		inf = f.Core().V1().ConfigMaps().Informer()
		start = func() { f.Start(stop) }
	case "widgets":
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, *ns, nil)
		inf = f.ForResource(widgetGVR).Informer()
		start = func() { f.Start(stop) }
	}
	// A handler as a controller would have one: it counts adds.
	var added atomic.Int64
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(interface{}) { added.Add(1) },
	})
	if err != nil {
		return err
	}

	baseline, err := settledRSS()
	if err != nil {
		return err
	}

	t0 := time.Now()
	start()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	// Not cache.WaitForCacheSync: it polls every 100 ms, too coarse for this figure. The store
	// is filled before the handler hears of an object, so the cheap counter goes first.
	store := inf.GetStore()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !(inf.HasSynced() && reg.HasSynced() && added.Load() >= int64(*expect) && len(store.ListKeys()) >= *expect) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("not synced within %s: synced=%v, %d %s in store, want %d",
				*timeout, inf.HasSynced(), len(store.ListKeys()), *resource, *expect)
		case <-tick.C:
		}
	}
	syncSeconds := time.Since(t0).Seconds()
	objects := len(store.ListKeys())

	rss, err := settledRSS()
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// The informer and its store must still be alive when memory is read.
	runtime.KeepAlive(inf)
	runtime.KeepAlive(store)
	logf("%s: %d objects in store, %d add events, synced in %.3f s", *resource, objects, added.Load(), syncSeconds)
	close(stop)

	perObject := int64(0)
	if objects > 0 {
		perObject = (rss - baseline) / int64(objects)
	}
	return printJSON(informerResult{
		Impl:             "client-go",
		Resource:         *resource,
		Objects:          objects,
		SyncSeconds:      round3(syncSeconds),
		RSSBytes:         rss,
		RSSBaselineBytes: baseline,
		HeapInuseBytes:   ms.HeapInuse,
		BytesPerObject:   perObject,
	})
}

// settledRSS collects garbage, returns freed memory to the OS and reads VmRSS.
func settledRSS() (int64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	return readRSS()
}

// readRSS is VmRSS from /proc/self/status, in bytes.
func readRSS() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("parsing VmRSS %q: %w", line, err)
				}
				return kb * 1024, nil
			}
			return 0, fmt.Errorf("unexpected VmRSS line %q", line)
		}
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}

// ---------------------------------------------------------------------------------------------
// cleanup

func runCleanup(args []string) error {
	fs := flag.NewFlagSet("cleanup", flag.ExitOnError)
	var cf clientFlags
	addClientFlags(fs, &cf, 50, 100)
	ns := fs.String("namespace", "", "namespace to delete")
	waitGone := fs.Bool("wait", false, "wait until the namespace is gone")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long --wait waits")
	withCRD := fs.Bool("crd", false, "also delete the Widget CRD")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ns == "" {
		return errors.New("--namespace is required")
	}
	cfg, err := cf.restConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	err = cs.CoreV1().Namespaces().Delete(ctx, *ns, metav1.DeleteOptions{})
	switch {
	case err == nil:
		logf("deleting namespace %s", *ns)
	case apierrors.IsNotFound(err):
		logf("namespace %s does not exist", *ns)
	default:
		return fmt.Errorf("deleting namespace %s: %w", *ns, err)
	}
	if *waitGone {
		start := time.Now()
		err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, *timeout, true, func(ctx context.Context) (bool, error) {
			_, err := cs.CoreV1().Namespaces().Get(ctx, *ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			return fmt.Errorf("namespace %s still there after %s", *ns, *timeout)
		}
		logf("namespace %s gone after %.1f s", *ns, time.Since(start).Seconds())
	}
	if *withCRD {
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		err = dyn.Resource(crdGVR).Delete(ctx, widgetCRDName, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting CRD %s: %w", widgetCRDName, err)
		}
		logf("deleted CRD %s", widgetCRDName)
	}
	return nil
}

// ---------------------------------------------------------------------------------------------

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "clientgo-bench: "+format+"\n", args...)
}

func printJSON(v interface{}) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(b))
	return err
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
