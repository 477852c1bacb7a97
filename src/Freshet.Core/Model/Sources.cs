using System.Text.Json.Serialization;

namespace Freshet.Model;

/// <summary>The kinds of data source.</summary>
public enum SourceKind
{
    /// <summary>Parquet or CSV files, local or s3://.</summary>
    File,
    /// <summary>Rows pushed through the API.</summary>
    Push,
    /// <summary>A Kafka topic.</summary>
    Kafka,
    /// <summary>A NATS JetStream subject.</summary>
    Nats,
    /// <summary>Values passed with an online request.</summary>
    Request,
}

/// <summary>File formats of a file source.</summary>
public enum FileFormat
{
    /// <summary>Apache Parquet.</summary>
    Parquet,
    /// <summary>Comma-separated values with a header row.</summary>
    Csv,
}

/// <summary>Where rows or events come from. The schema, when given, lets apply check types.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(FileSource), "file")]
[JsonDerivedType(typeof(PushSource), "push")]
[JsonDerivedType(typeof(KafkaSource), "kafka")]
[JsonDerivedType(typeof(NatsSource), "nats")]
[JsonDerivedType(typeof(RequestSource), "request")]
public abstract record DataSource(string Name) : Definition(Name)
{
    /// <summary>Which kind of source this is.</summary>
    [JsonIgnore]
    public abstract SourceKind Kind { get; }

    /// <summary>The columns of the source and their types; empty when not declared.</summary>
    public IReadOnlyList<Field> Schema { get; init; } = [];

    /// <summary>The event-time column.</summary>
    public string? TimestampField { get; init; }

    /// <summary>The created-time column (tie breaker between rows with the same event time).</summary>
    public string? CreatedTimestampField { get; init; }

    /// <summary>The lower-case kind name used in YAML.</summary>
    public static string KindName(SourceKind kind) => kind.ToString().ToLowerInvariant();
}

/// <summary>Parquet or CSV files: a path or glob, local or <c>s3://</c>.</summary>
public sealed record FileSource(string Name, string Path) : DataSource(Name)
{
    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.File;

    /// <summary>The file format.</summary>
    public FileFormat Format { get; init; } = FileFormat.Parquet;

    /// <summary>An S3-compatible endpoint for <c>s3://</c> paths (e.g. a local object store).</summary>
    public string? S3Endpoint { get; init; }
}

/// <summary>Rows pushed through <c>POST /push</c>; optionally archived to a batch source.</summary>
public sealed record PushSource(string Name) : DataSource(Name)
{
    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.Push;

    /// <summary>The file source that holds the same rows offline.</summary>
    public string? BatchSource { get; init; }
}

/// <summary>JSON events on a Kafka topic.</summary>
public sealed record KafkaSource(string Name, string BootstrapServers, string Topic) : DataSource(Name)
{
    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.Kafka;

    /// <summary>The file source that holds the same events offline.</summary>
    public string? BatchSource { get; init; }

    /// <summary>The consumer group; when null, <c>freshet-{source}</c>.</summary>
    public string? ConsumerGroup { get; init; }
}

/// <summary>JSON events on a NATS JetStream subject.</summary>
public sealed record NatsSource(string Name, string Url, string Subject) : DataSource(Name)
{
    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.Nats;

    /// <summary>The JetStream stream holding the subject.</summary>
    public string? Stream { get; init; }

    /// <summary>The durable consumer name; when null, <c>freshet-{source}</c>.</summary>
    public string? Durable { get; init; }

    /// <summary>The file source that holds the same events offline.</summary>
    public string? BatchSource { get; init; }
}

/// <summary>Values passed with an online request (inputs of on-demand views).</summary>
public sealed record RequestSource(string Name) : DataSource(Name)
{
    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.Request;
}
