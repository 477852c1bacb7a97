using System.CommandLine;
using System.Reflection;
using System.Text;
using Freshet.Model;

namespace Freshet.Cli.Commands;

/// <summary><c>freshet init DIR [--template quickstart]</c>: a working repo to start from.</summary>
internal static class InitCommand
{
    private const string TemplatePrefix = "template/";

    public static Command Create(TextWriter output, TextWriter error)
    {
        var dir = new Argument<string>("DIR") { Description = "The directory to create (must not exist or be empty)" };
        var template = new Option<string>("--template")
        {
            Description = $"The template: {string.Join(", ", Templates())}",
            DefaultValueFactory = _ => "quickstart",
        };
        var command = new Command("init", "Create a feature repo from a template");
        command.Arguments.Add(dir);
        command.Options.Add(template);
        command.SetAction((r, ct) => Task.FromResult(Run(r.GetValue(dir)!, r.GetValue(template)!, output, error)));
        return command;
    }

    private static IReadOnlyList<string> Templates() =>
        [.. Assembly.GetExecutingAssembly().GetManifestResourceNames()
            .Where(n => n.StartsWith(TemplatePrefix, StringComparison.Ordinal))
            .Select(n => n[TemplatePrefix.Length..].Split('/')[0])
            .Distinct()
            .Order(StringComparer.Ordinal)];

    private static int Run(string dir, string template, TextWriter output, TextWriter error)
    {
        var assembly = Assembly.GetExecutingAssembly();
        var prefix = $"{TemplatePrefix}{template}/";
        var resources = assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        if (resources.Count == 0)
        {
            error.WriteLine($"error: unknown template '{template}'; templates: {string.Join(", ", Templates())}");
            return ExitCodes.Error;
        }

        var target = Path.GetFullPath(dir);
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            error.WriteLine($"error: '{dir}' exists and is not empty; choose a new directory");
            return ExitCodes.Error;
        }

        if (File.Exists(target))
        {
            error.WriteLine($"error: '{dir}' is a file");
            return ExitCodes.Error;
        }

        // Feast names the project after the directory; so do we, made into a valid name.
        var project = ProjectName(Path.GetFileName(target.TrimEnd(Path.DirectorySeparatorChar)));
        foreach (var name in resources)
        {
            var relative = name[prefix.Length..];
            var path = Path.Combine(target, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var stream = assembly.GetManifestResourceStream(name)!;
            if (relative == RepoConfig.FileName)
            {
                using var reader = new StreamReader(stream, Encoding.UTF8);
                var text = reader.ReadToEnd().Replace($"project: {template}", $"project: {project}", StringComparison.Ordinal);
                File.WriteAllText(path, text);
            }
            else
            {
                using var file = File.Create(path);
                stream.CopyTo(file);
            }
        }

        output.WriteLine($"Created feature repo '{project}' in {dir} from template '{template}'.");
        output.WriteLine($"Next: freshet plan --repo {dir}   then   freshet apply --repo {dir}");
        return ExitCodes.Ok;
    }

    private static string ProjectName(string folder)
    {
        var sb = new StringBuilder();
        foreach (var c in folder)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        }

        var name = sb.ToString();
        return Names.IsValid(name) ? name : "p_" + name;
    }
}
