using System.Globalization;

namespace Freshet.LoadGen;

/// <summary>The command line of <c>freshet-loadgen</c>; <see cref="Parse"/> answers every mistake it finds.</summary>
internal sealed record LoadGenOptions
{
    public IReadOnlyList<string> Scenarios { get; init; } = ["a"];

    /// <summary>
    /// <c>redis</c> (a local redis-server is started, and raw MGET is a baseline), <c>rocksdb</c> (embedded, every
    /// write synced) or <c>memory</c> (in-process, not durable: a comparison without the disk).
    /// </summary>
    public string Store { get; init; } = "redis";

    public int Connections { get; init; } = 16;

    /// <summary>Requests in flight during the find-the-maximum step.</summary>
    public int InFlight { get; init; } = 32;

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Before anything is timed, every target runs closed loop in turn, one second each, for this long, so that the
    /// process (servers and clients) reaches its steady, fully compiled state (see <see cref="Settling"/>).
    /// </summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan MaxDuration { get; init; } = TimeSpan.FromSeconds(4);

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    public IReadOnlyList<double> Fractions { get; init; } = [0.1, 0.25, 0.5, 0.75, 0.9, 1.0];

    /// <summary>When set, the sweep uses it as the maximum rate and the closed-loop step is skipped.</summary>
    public double? MaxRate { get; init; }

    /// <summary>Targets to run; empty = every one the store allows.</summary>
    public IReadOnlyList<string> Targets { get; init; } = [];

    /// <summary>Events pushed per second while reading, in scenario <c>d</c> and the soak.</summary>
    public double PushRate { get; init; } = 200;

    /// <summary>HTTP/1.1 connections of the push stream (its own client).</summary>
    public int PushConnections { get; init; } = 16;

    /// <summary>
    /// gRPC channels (each its own HTTP/2 connection) the gRPC target spreads its calls over; empty = one target
    /// with <see cref="Connections"/> channels. Several counts make one gRPC target per count
    /// (<c>freshet-grpc-16ch</c>, <c>freshet-grpc-1ch</c>), measured side by side in one run.
    /// </summary>
    public IReadOnlyList<int> GrpcChannels { get; init; } = [];

    /// <summary>
    /// <c>--grpc-answer parse</c>: the gRPC targets parse each answer into Feast's message. The default
    /// (<c>bytes</c>) receives the whole answer but does not parse it, as the HTTP targets do not parse their JSON.
    /// </summary>
    public bool GrpcParse { get; init; }

    /// <summary>The soak's reporting interval (its <see cref="Duration"/> is the whole soak).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(60);

    public string OutDirectory { get; init; } = "loadgen-out";

    public string? ChartDirectory { get; init; }

    /// <summary>The soak: not a scenario of the sweep, but accepted by <c>--scenario</c>.</summary>
    public const string Soak = "soak";

    public static readonly IReadOnlyList<string> ScenarioNames = [.. Scenario.Names, Soak];

    public static readonly IReadOnlyList<string> TargetNames = [Names.FreshetHttp, Names.BareHttp, Names.FreshetGrpc, Names.RedisMget];

    public const string Usage = """
        freshet-loadgen [--scenario a,b,c,d|soak] [--store redis|rocksdb|memory] [--connections N] [--grpc-channels N,...] [--grpc-answer bytes|parse]
                        [--in-flight N] [--settle S] [--warmup S] [--duration S] [--max-duration S] [--timeout S]
                        [--fractions 0.1,0.5,1] [--max-rate R] [--push-rate R] [--push-connections N] [--interval S]
                        [--targets freshet-http,bare-http,freshet-grpc,redis-mget] [--out DIR] [--charts DIR]
        """;

    public static (LoadGenOptions? Options, IReadOnlyList<string> Errors) Parse(IReadOnlyList<string> args)
    {
        var errors = new List<string>();
        var o = new LoadGenOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (i + 1 >= args.Count)
            {
                errors.Add($"{name}: a value must follow");
                break;
            }

            var value = args[++i];
            switch (name)
            {
                case "--scenario":
                    var scenarios = List(value);
                    errors.AddRange(scenarios.Where(s => !ScenarioNames.Contains(s)).Select(s => $"--scenario: unknown scenario '{s}' (known: {string.Join(", ", ScenarioNames)})"));
                    o = o with { Scenarios = scenarios };
                    break;
                case "--store":
                    if (value is not ("redis" or "rocksdb" or "memory"))
                    {
                        errors.Add($"--store: must be redis, rocksdb or memory, not '{value}'");
                    }

                    o = o with { Store = value };
                    break;
                case "--connections":
                    o = o with { Connections = Positive(name, value, errors) };
                    break;
                case "--grpc-channels":
                    o = o with { GrpcChannels = [.. List(value).Select(v => Positive(name, v, errors))] };
                    break;
                case "--grpc-answer":
                    if (value is not ("bytes" or "parse"))
                    {
                        errors.Add($"--grpc-answer: must be bytes or parse, not '{value}'");
                    }

                    o = o with { GrpcParse = value == "parse" };
                    break;
                case "--push-connections":
                    o = o with { PushConnections = Positive(name, value, errors) };
                    break;
                case "--push-rate":
                    o = o with { PushRate = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var p) && p > 0 && p <= 100_000 ? p : Fail(errors, $"--push-rate: '{value}' is not a rate above 0 and at most 100000", 1.0) };
                    break;
                case "--interval":
                    o = o with { Interval = Seconds(name, value, errors, allowZero: false) };
                    break;
                case "--in-flight":
                    o = o with { InFlight = Positive(name, value, errors) };
                    break;
                case "--warmup":
                    o = o with { Warmup = Seconds(name, value, errors, allowZero: true) };
                    break;
                case "--settle":
                    o = o with { Settle = Seconds(name, value, errors, allowZero: true) };
                    break;
                case "--duration":
                    o = o with { Duration = Seconds(name, value, errors, allowZero: false) };
                    break;
                case "--max-duration":
                    o = o with { MaxDuration = Seconds(name, value, errors, allowZero: false) };
                    break;
                case "--timeout":
                    o = o with { Timeout = Seconds(name, value, errors, allowZero: false) };
                    break;
                case "--fractions":
                    var fractions = new List<double>();
                    foreach (var f in List(value))
                    {
                        if (double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && x > 0 && x <= 10)
                        {
                            fractions.Add(x);
                        }
                        else
                        {
                            errors.Add($"--fractions: '{f}' is not a number above 0 and at most 10");
                        }
                    }

                    o = o with { Fractions = fractions };
                    break;
                case "--max-rate":
                    o = o with { MaxRate = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r > 0 ? r : Fail<double?>(errors, $"--max-rate: '{value}' is not a rate above 0", null) };
                    break;
                case "--targets":
                    var targets = List(value);
                    errors.AddRange(targets.Where(t => !TargetNames.Contains(t)).Select(t => $"--targets: unknown target '{t}' (known: {string.Join(", ", TargetNames)})"));
                    o = o with { Targets = targets };
                    break;
                case "--out":
                    o = o with { OutDirectory = value };
                    break;
                case "--charts":
                    o = o with { ChartDirectory = value };
                    break;
                default:
                    errors.Add($"unknown option '{name}'");
                    i--;
                    break;
            }
        }

        if (o.Store != "redis" && o.Targets.Contains(Names.RedisMget))
        {
            errors.Add("--targets: redis-mget needs --store redis");
        }

        if (o.Scenarios.Contains(Soak) && o.Interval > o.Duration)
        {
            errors.Add($"--interval: the soak's interval ({o.Interval.TotalSeconds:F0} s) is longer than its --duration ({o.Duration.TotalSeconds:F0} s)");
        }

        return errors.Count == 0 ? (o, errors) : (null, errors);
    }

    private static List<string> List(string value) => [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private static T Fail<T>(List<string> errors, string message, T fallback)
    {
        errors.Add(message);
        return fallback;
    }

    private static int Positive(string name, string value, List<string> errors) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : Fail(errors, $"{name}: '{value}' is not a whole number above 0", 1);

    private static TimeSpan Seconds(string name, string value, List<string> errors, bool allowZero) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && (s > 0 || (allowZero && s == 0)) && s < 3600
            ? TimeSpan.FromSeconds(s)
            : Fail(errors, $"{name}: '{value}' is not a number of seconds {(allowZero ? "from 0" : "above 0")} and under 3600", TimeSpan.FromSeconds(1));
}

/// <summary>Target names as they appear in output.</summary>
internal static class Names
{
    public const string FreshetHttp = "freshet-http";
    public const string BareHttp = "bare-http";
    public const string FreshetGrpc = "freshet-grpc";
    public const string RedisMget = "redis-mget";
}
