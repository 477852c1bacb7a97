namespace Freshet.DuckDb.Tests;

/// <summary>S3 key globs match as DuckDB's local globs do: checked against DuckDB's own glob() on the same tree.</summary>
public sealed class S3GlobTests
{
    private static readonly string[] Keys =
    [
        "data/a.parquet", "data/b.parquet", "data/ab.parquet", "data/a.csv", "data/.hidden.parquet",
        "data/x/c.parquet", "data/x/y/d.parquet", "data/x/y/z/e.parquet", "data/date=2024-05-01/f.parquet",
        "data/date=2024-05-02/g.parquet", "other/a.parquet", "data/a1.parquet", "data/a9.parquet", "data/A.parquet",
    ];

    [Theory]
    [InlineData("data/*.parquet")]
    [InlineData("data/*")]
    [InlineData("data/a*.parquet")]
    [InlineData("data/?.parquet")]
    [InlineData("data/a?.parquet")]
    [InlineData("data/[ab].parquet")]
    [InlineData("data/a[0-5].parquet")]
    [InlineData("data/a[!0-5].parquet")]
    [InlineData("data/**/*.parquet")]
    [InlineData("data/**/d.parquet")]
    [InlineData("data/x/**/*.parquet")]
    [InlineData("data/*/*.parquet")]
    [InlineData("data/date=*/*.parquet")]
    [InlineData("*/a.parquet")]
    [InlineData("data/a.parquet")]
    [InlineData("data/*.p*t")]
    public void The_matcher_agrees_with_duckdb_glob_on_a_local_tree(string pattern)
    {
        using var dir = new TempDirectory();
        foreach (var key in Keys)
        {
            File.WriteAllText(dir.File(key), key);
        }

        var duckdb = PlainDuckDb.Query($"SELECT file FROM glob({PlainDuckDb.Quote(dir.Path + "/" + pattern)})")
            .Select(r => Path.GetRelativePath(dir.Path, (string)r[0]!).Replace('\\', '/'))
            .Order(StringComparer.Ordinal).ToList();
        var ours = Keys.Where(k => S3Glob.IsMatch(k, pattern)).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(duckdb, ours);
    }

    [Theory]
    [InlineData("data/*.parquet", "data/")]
    [InlineData("data/part-?.parquet", "data/part-")]
    [InlineData("data/[ab].parquet", "data/")]
    [InlineData("**/x.parquet", "")]
    [InlineData("data/x.parquet", "data/x.parquet")]
    public void The_listing_prefix_is_the_literal_start(string pattern, string prefix) => Assert.Equal(prefix, S3Glob.ListPrefix(pattern));

    [Fact]
    public void Paths_split_into_bucket_and_key()
    {
        Assert.Equal(("bucket", "a/b/*.parquet"), S3Glob.Parse("s3://bucket/a/b/*.parquet", out _));
        Assert.Null(S3Glob.Parse("s3://bucket/dir/", out var error));
        Assert.Contains("names no object", error, StringComparison.Ordinal);
        Assert.True(S3Glob.IsS3("S3://bucket/key"));
        Assert.False(S3Glob.IsS3("data/s3://x"));
    }
}
