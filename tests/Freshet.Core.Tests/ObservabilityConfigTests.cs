using Freshet.Definitions;
using Freshet.Model;

namespace Freshet.Core.Tests;

/// <summary>The <c>observability</c> section of freshet.yaml (docs/observability.md).</summary>
public sealed class ObservabilityConfigTests
{
    private static ValidationResult<FeatureRepoDefinition> Load(string yaml) => RepoLoader.Load([new RepoFile(RepoConfig.FileName, yaml)]);

    [Fact]
    public void Metrics_are_on_and_tracing_off_by_default()
    {
        var config = Load("project: p\n").GetValueOrThrow().Config.Observability;

        Assert.True(config.Metrics);
        Assert.Null(config.Tracing);
    }

    [Fact]
    public void Tracing_settings_are_read()
    {
        var config = Load("""
            project: p
            observability:
              metrics: false
              tracing: {otlp_endpoint: "http://10.0.0.5:4317", protocol: grpc, sample_ratio: 0.25, service_name: fraud-serving}
            """).GetValueOrThrow().Config.Observability;

        Assert.False(config.Metrics);
        Assert.Equal(new Uri("http://10.0.0.5:4317"), config.Tracing!.OtlpEndpoint);
        Assert.Equal("grpc", config.Tracing.Protocol);
        Assert.Equal(0.25, config.Tracing.SampleRatio);
        Assert.Equal("fraud-serving", config.Tracing.ServiceName);
    }

    [Theory]
    [InlineData("tracing: {otlp_endpoint: localhost:4318}", "3:28", "'otlp_endpoint' must be an http:// or https:// URL")]
    [InlineData("tracing: {protocol: grpc}", "3:12", "'otlp_endpoint' is required")]
    [InlineData("tracing: {otlp_endpoint: \"http://a:1\", protocol: thrift}", "3:52", "unknown protocol 'thrift'; expected one of http/protobuf, grpc")]
    [InlineData("tracing: {otlp_endpoint: \"http://a:1\", sample_ratio: 2}", "3:56", "'sample_ratio' must be from 0 to 1")]
    [InlineData("tracing: {otlp_endpoint: \"http://a:1\", sample_ratio: half}", "3:56", "'sample_ratio' must be a number")]
    [InlineData("tracing: {otlp_endpoint: \"http://a:1\", colour: red}", "3:42", "unknown key 'colour'")]
    [InlineData("metrics: maybe", "3:12", "'metrics' must be true or false")]
    [InlineData("traces: {}", "3:3", "unknown key 'traces'")]
    public void Bad_settings_are_reported_with_their_position(string line, string position, string message)
    {
        var result = Load($"project: p\nobservability:\n  {line}\n");

        var error = Assert.Single(result.Diagnostics);
        Assert.Equal($"freshet.yaml:{position}", error.Position!.ToString());
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
