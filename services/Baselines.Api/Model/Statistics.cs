using MathNet.Numerics.Distributions;

namespace Transformation.Baselines.Api.Model;

/// <summary>
/// The mergeable summary of a group for one dimension: respondents (n), the sum and sum of squares of their dimension
/// scores (a respondent's score = the mean of their answered items of the dimension, reverse-scored items flipped),
/// and the item-level answer distribution 1..5 after flipping.
/// </summary>
public sealed class Aggregate
{
    public long N { get; set; }

    public double Sum { get; set; }

    public double SumOfSquares { get; set; }

    public long[] Distribution { get; } = new long[5];

    public double Mean => N == 0 ? 0 : Sum / N;

    /// <summary>The sample variance (n - 1).</summary>
    public double Variance => N < 2 ? 0 : Math.Max(0, (SumOfSquares - (Sum * Sum / N)) / (N - 1));

    public double StandardDeviation => Math.Sqrt(Variance);

    public long Answers => Distribution.Sum();

    /// <summary>The share of answers that are 4 or 5.</summary>
    public double FavourableShare => Answers == 0 ? 0 : (double)(Distribution[3] + Distribution[4]) / Answers;

    public void Add(Aggregate other)
    {
        N += other.N;
        Sum += other.Sum;
        SumOfSquares += other.SumOfSquares;
        for (var i = 0; i < 5; i++)
        {
            Distribution[i] += other.Distribution[i];
        }
    }

    public void Subtract(Aggregate other)
    {
        N -= other.N;
        Sum -= other.Sum;
        SumOfSquares -= other.SumOfSquares;
        for (var i = 0; i < 5; i++)
        {
            Distribution[i] -= other.Distribution[i];
        }
    }

    /// <summary>Adds one respondent's answers to one dimension (already flipped; 1..5).</summary>
    public void AddRespondent(ReadOnlySpan<int> flippedAnswers)
    {
        if (flippedAnswers.IsEmpty)
        {
            return;
        }

        var total = 0;
        foreach (var answer in flippedAnswers)
        {
            total += answer;
            Distribution[answer - 1]++;
        }

        var score = (double)total / flippedAnswers.Length;
        N++;
        Sum += score;
        SumOfSquares += score * score;
    }
}

/// <summary>The result of Welch's unequal-variances t-test.</summary>
public sealed record WelchResult(double Difference, double T, double DegreesOfFreedom, double PValue, bool Significant);

public static class Scoring
{
    public const double Alpha = 0.05;

    /// <summary>The answer as scored: reverse-scored items are flipped (1 ↔ 5, 2 ↔ 4).</summary>
    public static int Flip(int answer, bool reverseScored) => reverseScored ? 6 - answer : answer;

    /// <summary>Welch's t-test of mean(current) - mean(previous); two-sided p-value.</summary>
    public static WelchResult? Welch(Aggregate current, Aggregate previous)
    {
        if (current.N < 2 || previous.N < 2)
        {
            return null;
        }

        var a = current.Variance / current.N;
        var b = previous.Variance / previous.N;
        var difference = current.Mean - previous.Mean;
        if (a + b <= 0)
        {
            return difference == 0 ? new WelchResult(0, 0, current.N + previous.N - 2, 1, false) : null;
        }

        var t = difference / Math.Sqrt(a + b);
        var df = (a + b) * (a + b) / ((a * a / (current.N - 1)) + (b * b / (previous.N - 1)));
        var p = 2 * (1 - StudentT.CDF(0, 1, df, Math.Abs(t)));
        return new WelchResult(difference, t, df, p, p < Alpha);
    }
}
