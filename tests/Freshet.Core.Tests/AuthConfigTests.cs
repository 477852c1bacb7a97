using Freshet.Definitions;

namespace Freshet.Core.Tests;

public sealed class AuthConfigTests
{
    private static RepoFile[] Files(string config) => [new RepoFile("freshet.yaml", config)];

    [Fact]
    public void Auth_is_on_unless_freshet_yaml_turns_it_off()
    {
        Assert.True(RepoLoader.Load(Files("project: p\n")).Value!.Config.Auth.Enabled);
        Assert.True(RepoLoader.Load(Files("project: p\nauth:\n  enabled: true\n")).Value!.Config.Auth.Enabled);
        var off = RepoLoader.Load(Files("project: p\nauth: {enabled: false}\n"));
        Assert.True(off.IsValid, string.Join('\n', off.Diagnostics));
        Assert.False(off.Value!.Config.Auth.Enabled);
    }

    [Fact]
    public void Auth_off_survives_a_write_and_a_read()
    {
        var config = RepoLoader.Load(Files("project: p\nauth: {enabled: false}\n")).Value!.Config;
        var again = RepoLoader.Load(Files(DefinitionWriter.Write(config))).Value!.Config;
        Assert.False(again.Auth.Enabled);
    }

    [Theory]
    [InlineData("project: p\nauth:\n  enabled: maybe\n", 3, 12, "'enabled' must be true or false, not 'maybe'")]
    [InlineData("project: p\nauth:\n  enable: false\n", 3, 3, "enable")]
    [InlineData("project: p\nauth: off\n", 2, 7, "auth must be a mapping")]
    public void A_bad_auth_setting_is_reported_at_its_place(string config, int line, int column, string expected)
    {
        var result = RepoLoader.Load(Files(config));
        Assert.False(result.IsValid);
        var d = Assert.Single(result.Diagnostics, d => d.Message.Contains(expected, StringComparison.Ordinal));
        Assert.Equal(new SourcePosition("freshet.yaml", line, column), d.Position);
    }
}
