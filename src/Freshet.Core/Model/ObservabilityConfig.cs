namespace Freshet.Model;

/// <summary>Metrics and tracing (<c>observability</c> in freshet.yaml, docs/observability.md).</summary>
public sealed record ObservabilityConfig
{
    /// <summary>Whether <c>freshet serve</c> answers <c>GET /metrics</c> (Prometheus text format); on by default.</summary>
    public bool Metrics { get; init; } = true;

    /// <summary>Where spans go; null: no exporter (spans are not recorded).</summary>
    public TracingConfig? Tracing { get; init; }
}

/// <summary>The OTLP trace exporter (<c>observability.tracing</c>).</summary>
public sealed record TracingConfig
{
    /// <summary>The OTLP endpoint, e.g. <c>http://127.0.0.1:4318</c> (http/protobuf) or <c>http://127.0.0.1:4317</c> (grpc).</summary>
    public required Uri OtlpEndpoint { get; init; }

    /// <summary>The OTLP transport: <c>http/protobuf</c> (default) or <c>grpc</c>.</summary>
    public string Protocol { get; init; } = "http/protobuf";

    /// <summary>The share of root traces recorded, 0 to 1 (parent-based: a sampled caller's trace is always followed).</summary>
    public double SampleRatio { get; init; } = 1.0;

    /// <summary>The <c>service.name</c> resource attribute of the spans.</summary>
    public string ServiceName { get; init; } = "freshet";

    /// <summary>Transports this version knows.</summary>
    public static readonly IReadOnlyList<string> Protocols = ["http/protobuf", "grpc"];
}
