namespace Freshet.Aggregates;

/// <summary>
/// A float64 sum with Neumaier's (Kahan–Babuška) compensation: <see cref="Sum"/> is the running sum and
/// <see cref="Compensation"/> the low-order part it lost to rounding. Both are kept in the tile so that merging
/// two sums stays compensated (the other's sum and compensation are each added compensated).
/// </summary>
internal struct CompensatedSum
{
    public double Sum;
    public double Compensation;

    public void Add(double x)
    {
        var t = Sum + x;
        // The branch keeps the larger operand's low bits: this is what makes Neumaier's variant exact for
        // [1e16, 1, -1e16], where Kahan's loses the 1.
        Compensation += Math.Abs(Sum) >= Math.Abs(x) ? (Sum - t) + x : (x - t) + Sum;
        Sum = t;
    }

    public void Add(in CompensatedSum other)
    {
        Add(other.Sum);
        Add(other.Compensation);
    }

    /// <summary>The compensated value; an infinite or NaN running sum is returned as it is (IEEE rules).</summary>
    public readonly double Value => double.IsFinite(Sum) ? Sum + Compensation : Sum;
}
