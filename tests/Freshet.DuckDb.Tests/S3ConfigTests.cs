using Freshet.Definitions;
using Freshet.Model;

namespace Freshet.DuckDb.Tests;

/// <summary>The <c>s3:</c> block of freshet.yaml and its fallbacks to the AWS environment.</summary>
public sealed class S3ConfigTests
{
    private static ValidationResult<RepoConfig> Load(string yaml)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File(RepoConfig.FileName), yaml);
        return RepoLoader.LoadConfig(dir.Path);
    }

    [Fact]
    public void The_s3_block_is_read()
    {
        var config = Load("project: p\ns3:\n  endpoint_url: http://127.0.0.1:9000\n  region: eu-west-1\n  path_style: false\n").GetValueOrThrow();

        Assert.Equal(new S3Config { EndpointUrl = "http://127.0.0.1:9000", Region = "eu-west-1", PathStyle = false }, config.S3);
        var settings = S3Settings.From(config.S3, _ => "http://ignored:1");
        Assert.Equal(("http://127.0.0.1:9000", "eu-west-1", false), (settings.EndpointUrl, settings.Region, settings.PathStyle));
    }

    [Fact]
    public void Unset_settings_come_from_the_aws_environment()
    {
        var env = new Dictionary<string, string> { ["AWS_ENDPOINT_URL"] = "http://localhost:4566", ["AWS_DEFAULT_REGION"] = "ap-south-1" };

        var settings = S3Settings.From(Load("project: p\n").GetValueOrThrow().S3, env.GetValueOrDefault);

        Assert.Equal(("http://localhost:4566", "ap-south-1", (bool?)null), (settings.EndpointUrl, settings.Region, settings.PathStyle));
        Assert.Equal("http://s3only:1", S3Settings.From(null, new Dictionary<string, string> { ["AWS_ENDPOINT_URL_S3"] = "http://s3only:1", ["AWS_ENDPOINT_URL"] = "http://x:2" }.GetValueOrDefault).EndpointUrl);
        Assert.Equal((null, S3Settings.DefaultRegion), (S3Settings.From(null, _ => null).EndpointUrl, S3Settings.From(null, _ => null).Region));
    }

    [Theory]
    [InlineData("s3:\n  endpoint: http://x\n", 3, 3, "endpoint")]
    [InlineData("s3:\n  endpoint_url: ftp://x\n", 3, 17, "must be an http:// or https:// URL")]
    [InlineData("s3:\n  endpoint_url: not a url\n", 3, 17, "must be an http:// or https:// URL")]
    [InlineData("s3:\n  path_style: maybe\n", 3, 15, "must be true or false")]
    [InlineData("s3:\n  region: ''\n", 3, 11, "'region'")]
    [InlineData("s3: yes\n", 2, 5, "s3")]
    public void Bad_s3_settings_are_reported_with_file_line_and_column(string block, int line, int column, string words)
    {
        var result = Load("project: p\n" + block);

        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(new SourcePosition(RepoConfig.FileName, line, column), d.Position);
        Assert.Contains(words, d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_s3_block_survives_a_write_and_a_read()
    {
        var config = new RepoConfig("p") { S3 = new S3Config { EndpointUrl = "http://127.0.0.1:9000", PathStyle = true } };

        Assert.Equal(config.S3, Load(DefinitionWriter.Write(config)).GetValueOrThrow().S3);
        Assert.DoesNotContain("s3:", DefinitionWriter.Write(new RepoConfig("p")), StringComparison.Ordinal);
    }
}
