namespace Freshet.Model;

/// <summary>The audit trail (<c>audit</c> in freshet.yaml, docs/audit.md).</summary>
public sealed record AuditConfig
{
    /// <summary>Whether applies, writes, materializations and sampled reads are recorded (on by default).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The share of successful online reads recorded, from 0 (none) to 1 (every one); refused reads are always recorded.</summary>
    public double ReadSampleRate { get; init; } = 0.01;

    /// <summary>The log's directory, relative to the data directory.</summary>
    public string Path { get; init; } = "audit";
}
