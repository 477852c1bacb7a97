using System.Text.Json.Nodes;

namespace Freshet.Cli.Tests;

/// <summary>The result of one freshet invocation.</summary>
public sealed record CliResult(int ExitCode, string Out, string Err)
{
    public JsonNode Json() => JsonNode.Parse(Out) ?? throw new InvalidOperationException("no JSON output");

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

/// <summary>A temporary directory with a feature repo in it, and a way to run freshet against it in-process.</summary>
public sealed class TempRepo : IDisposable
{
    public TempRepo()
    {
        Root = Path.Combine(Path.GetTempPath(), "freshet-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        Dir = Path.Combine(Root, "repo");
    }

    /// <summary>A parent directory that is removed at the end.</summary>
    public string Root { get; }

    /// <summary>The repo directory (created by init or by <see cref="Write"/>).</summary>
    public string Dir { get; }

    public string RegistryFile => Path.Combine(Dir, "data", "registry", "registry.json");

    public static Task<CliResult> Run(params string[] args) => RunWithTerminal(null, args);

    /// <summary>Runs freshet as if a person typed <paramref name="typed"/> at a terminal (null: no terminal).</summary>
    public static async Task<CliResult> RunWithTerminal(string? typed, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var terminal = typed is null ? null : new StringReader(typed);
        var code = await FreshetCli.RunAsync(args, output, error, terminal);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs freshet with --repo pointing at this repo.</summary>
    public Task<CliResult> Freshet(params string[] args) => Run([.. args, "--repo", Dir]);

    public async Task<TempRepo> InitQuickstart()
    {
        var r = await Run("init", Dir);
        Assert.True(r.ExitCode == 0, r.ToString());
        return this;
    }

    public void Write(string relativePath, string text)
    {
        var path = Path.Combine(Dir, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    public string Read(string relativePath) => File.ReadAllText(Path.Combine(Dir, relativePath));

    public void Edit(string relativePath, string from, string to)
    {
        var text = Read(relativePath);
        Assert.Contains(from, text, StringComparison.Ordinal);
        Write(relativePath, text.Replace(from, to, StringComparison.Ordinal));
    }

    /// <summary>Cuts the text from <paramref name="startMarker"/> up to (not including) <paramref name="endMarker"/>.</summary>
    public void RemoveBetween(string relativePath, string startMarker, string endMarker)
    {
        var text = Read(relativePath);
        var start = text.IndexOf(startMarker, StringComparison.Ordinal);
        var end = text.IndexOf(endMarker, start, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"markers not found in {relativePath}");
        Write(relativePath, text[..start] + "\n" + text[end..]);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
