using Freshet.Security;

namespace Freshet.Core.Tests;

public sealed class GrantTests
{
    private static readonly IReadOnlyDictionary<string, string> NoTags = new Dictionary<string, string>();
    private static readonly IReadOnlyDictionary<string, string> Fraud = new Dictionary<string, string> { ["team"] = "fraud", ["tier"] = "gold" };

    [Theory]
    [InlineData("read_online:driver_*", "read_online", "driver_stats", true)]
    [InlineData("read_online:driver_*", "read_online", "rider_stats", false)]
    [InlineData("read_online:driver_*", "write_online", "driver_stats", false)]
    [InlineData("*:*", "materialize", "anything", true)]
    [InlineData("describe:driver_stat?", "describe", "driver_stats", true)]
    [InlineData("describe:driver_stat?", "describe", "driver_stat", false)]
    [InlineData("write_online:*_stats", "write_online", "driver_stats", true)]
    [InlineData("write_online:a*b*c", "write_online", "aXbYbZc", true)]
    [InlineData("write_online:a*b*c", "write_online", "aXbYbZ", false)]
    [InlineData("write_online:exact", "write_online", "exactly", false)]
    public void A_pattern_is_a_glob_over_names(string grant, string action, string name, bool allowed) =>
        Assert.Equal(allowed, Grant.Parse(grant).Allows(action, name, NoTags));

    [Fact]
    public void Tags_must_all_match()
    {
        Assert.True(Grant.Parse("read_online:*[team=fraud]").Allows("read_online", "x", Fraud));
        Assert.True(Grant.Parse("read_online:*[team=fraud, tier=gold]").Allows("read_online", "x", Fraud));
        Assert.False(Grant.Parse("read_online:*[team=fraud,tier=silver]").Allows("read_online", "x", Fraud));
        Assert.False(Grant.Parse("read_online:*[team=fraud]").Allows("read_online", "x", NoTags));
    }

    [Fact]
    public void Only_an_unscoped_grant_covers_the_whole_project()
    {
        Assert.True(Grant.Parse("describe:*").AllowsProject("describe"));
        Assert.True(Grant.Parse("*:*").AllowsProject("describe"));
        Assert.False(Grant.Parse("describe:driver_*").AllowsProject("describe"));
        Assert.False(Grant.Parse("describe:*[team=ops]").AllowsProject("describe"));
        Assert.False(Grant.Parse("read_online:*").AllowsProject("describe"));
    }

    [Theory]
    [InlineData("read_online", "a grant is ACTION:PATTERN")]
    [InlineData("read:driver_*", "unknown action 'read'")]
    [InlineData("read_online:", "pattern '' must be")]
    [InlineData("read_online:driver stats", "pattern 'driver stats' must be")]
    [InlineData("read_online:*[team]", "tag 'team' must be NAME=VALUE")]
    [InlineData("read_online:*[team=a", "must end with ']'")]
    [InlineData("read_online:*[team=a,team=b]", "each name once")]
    public void A_bad_grant_says_what_is_wrong(string text, string message)
    {
        Assert.False(Grant.TryParse(text, out _, out var error));
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_grant_prints_as_it_parses()
    {
        Assert.Equal("read_online:*[team=fraud,tier=gold]", Grant.Parse("read_online:*[tier=gold, team=fraud]").ToString());
    }

    [Fact]
    public void A_key_matches_its_hash_only()
    {
        var (key, id) = ApiKeySecret.Generate();
        var (other, _) = ApiKeySecret.Generate();
        Assert.StartsWith($"fsk_{id}_", key, StringComparison.Ordinal);
        Assert.True(ApiKeySecret.TryGetId(key, out var parsed));
        Assert.Equal(id, parsed);
        Assert.True(ApiKeySecret.Matches(key, ApiKeySecret.Hash(key)));
        Assert.False(ApiKeySecret.Matches(other, ApiKeySecret.Hash(key)));
        Assert.False(ApiKeySecret.TryGetId("fsk_short", out _));
        Assert.False(ApiKeySecret.TryGetId("Bearer x", out _));
    }
}
