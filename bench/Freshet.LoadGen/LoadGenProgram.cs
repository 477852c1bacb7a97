namespace Freshet.LoadGen;

/// <summary>The program: parse, run each scenario, print its table, write its JSON and chart.</summary>
internal static class LoadGenProgram
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        if (args is ["--help"] or ["-h"])
        {
            output.WriteLine(LoadGenOptions.Usage);
            return 0;
        }

        var (options, errors) = LoadGenOptions.Parse(args);
        if (options is null)
        {
            foreach (var e in errors)
            {
                error.WriteLine($"freshet-loadgen: {e}");
            }

            error.WriteLine(LoadGenOptions.Usage);
            return 2;
        }

        foreach (var scenario in options.Scenarios)
        {
            if (scenario == LoadGenOptions.Soak)
            {
                var soak = await SoakRun.RunAsync(options, output);
                output.WriteLine();
                output.Write(SoakRun.Table(soak));
                output.Write(SoakRun.Summary(soak));
                output.WriteLine($"json: {await SoakRun.WriteJsonAsync(soak, options.OutDirectory)}");
                output.WriteLine($"chart: {SoakRun.WriteChart(soak, options.ChartDirectory ?? options.OutDirectory)}");
                continue;
            }

            var report = await LoadGenRun.RunScenarioAsync(scenario, options, output);
            output.WriteLine();
            output.Write(LoadReport.Table(report));
            output.Write(LoadReport.FreshnessTable(report));
            output.WriteLine(Ratios.Describe(report));
            output.WriteLine($"json: {await LoadReport.WriteJsonAsync(report, options.OutDirectory)}");
            output.WriteLine($"chart: {LoadReport.WriteChart(report, options.ChartDirectory ?? options.OutDirectory)}");
        }

        return 0;
    }
}
