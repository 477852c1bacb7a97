namespace Freshet.Cli.Tests;

/// <summary>
/// The heavy streaming end-to-end tests (several processes, a broker, thousands of events) run by themselves, not
/// alongside the other test classes, so that they do not starve timing-sensitive tests on a small machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StreamingEndToEndCollection
{
    public const string Name = "Streaming end to end";
}
