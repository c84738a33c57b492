package admission

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsNamespace prefixes every metric name.
const MetricsNamespace = "trustpolicy_serve"

// metrics are the server's Prometheus collectors, in a registry of its own
// (no global state); docs/admission.md describes each.
type metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec // by HTTP code
	keys         *prometheus.CounterVec // by verdict
	duration     prometheus.Histogram
	verdictCache *prometheus.CounterVec // hit, miss
	registry     *prometheus.CounterVec // hit (no registry request), miss
	revocation   *prometheus.CounterVec // hit, miss
	inFlight     prometheus.GaugeFunc
	queued       prometheus.Gauge
	overloaded   prometheus.Counter
	ready        prometheus.Gauge
	generation   prometheus.Gauge
	reloads      *prometheus.CounterVec // ok, failed
	cacheEntries prometheus.GaugeFunc
}

func newMetrics(inFlight, cacheEntries func() float64) *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: MetricsNamespace, Name: name, Help: help}
	}
	m := &metrics{
		reg:      prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts(opts("requests_total", "Provider requests answered, by HTTP status code.")), []string{"code"}),
		keys:     prometheus.NewCounterVec(prometheus.CounterOpts(opts("keys_total", "Keys (images) answered, by verdict: verified, skipped, failed, inconclusive, error.")), []string{"verdict"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: MetricsNamespace, Name: "request_duration_seconds",
			Help:    "Time to answer a provider request, from its arrival to the response.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
		verdictCache: prometheus.NewCounterVec(prometheus.CounterOpts(opts("verdict_cache_total", "Verdict cache lookups: hit (answered from the cache) or miss (verified).")), []string{"result"}),
		registry: prometheus.NewCounterVec(prometheus.CounterOpts(opts("registry_cache_total",
			"Keys answered without any registry request (hit: a digest whose verdict was cached) or with one (miss: a tag resolved, or a verification).")), []string{"result"}),
		revocation: prometheus.NewCounterVec(prometheus.CounterOpts(opts("revocation_cache_total",
			"Revocation answers (per certificate) used by fresh verifications: hit (from the CRL/OCSP cache) or miss (from the network).")), []string{"result"}),
		inFlight:     prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("in_flight_requests", "Requests being verified.")), inFlight),
		queued:       prometheus.NewGauge(prometheus.GaugeOpts(opts("queued_requests", "Requests waiting for a worker."))),
		overloaded:   prometheus.NewCounter(prometheus.CounterOpts(opts("overloaded_total", "Requests refused at once because every worker was busy and the queue full."))),
		ready:        prometheus.NewGauge(prometheus.GaugeOpts(opts("ready", "1 when the current policy and trust stores loaded and linted clean, else 0."))),
		generation:   prometheus.NewGauge(prometheus.GaugeOpts(opts("generation", "Generation of the policy and trust stores in use (0: none loaded)."))),
		reloads:      prometheus.NewCounterVec(prometheus.CounterOpts(opts("reloads_total", "Loads of the policy and trust stores: ok, or failed (the previous generation stays in use).")), []string{"result"}),
		cacheEntries: prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("verdict_cache_entries", "Entries in the verdict cache.")), cacheEntries),
	}
	m.reg.MustRegister(m.requests, m.keys, m.duration, m.verdictCache, m.registry, m.revocation, m.inFlight, m.queued,
		m.overloaded, m.ready, m.generation, m.reloads, m.cacheEntries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every label value exists from the start, so rates are defined.
	for _, v := range []string{"verified", "skipped", "failed", "inconclusive", "error"} {
		m.keys.WithLabelValues(v)
	}
	for _, r := range []string{"hit", "miss"} {
		m.verdictCache.WithLabelValues(r)
		m.registry.WithLabelValues(r)
		m.revocation.WithLabelValues(r)
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("failed")
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
