using Transformation.Baselines.Api.Model;

namespace Transformation.Baselines.UnitTests;

public sealed class ScoringTests
{
    private static Aggregate Of(params double[] scores) => new()
    {
        N = scores.Length, Sum = scores.Sum(), SumOfSquares = scores.Sum(s => s * s),
    };

    [Fact]
    public void ReverseScoredAnswersAreFlippedAndARespondentCountsOncePerDimension()
    {
        Scoring.Flip(1, reverseScored: true).ShouldBe(5);
        Scoring.Flip(4, reverseScored: true).ShouldBe(2);
        Scoring.Flip(4, reverseScored: false).ShouldBe(4);

        var aggregate = new Aggregate();
        aggregate.AddRespondent([5, Scoring.Flip(1, true)]); // 5 and 5
        aggregate.AddRespondent([2, Scoring.Flip(4, true)]); // 2 and 2
        aggregate.N.ShouldBe(2);
        aggregate.Mean.ShouldBe(3.5);
        aggregate.Distribution.ShouldBe([0L, 2, 0, 0, 2]);
        aggregate.FavourableShare.ShouldBe(0.5);
        aggregate.Variance.ShouldBe(4.5, 1e-12);
    }

    [Fact]
    public void WelchMatchesThePublishedExample()
    {
        // Welch's t-test, Wikipedia example 1: t = -2.46, df = 24.99, p = 0.021.
        var a = Of(27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4);
        var b = Of(27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4);
        var result = Scoring.Welch(a, b)!;
        result.T.ShouldBe(-2.46, 0.005);
        result.DegreesOfFreedom.ShouldBe(24.99, 0.01);
        result.PValue.ShouldBe(0.021, 0.001);
        result.Significant.ShouldBeTrue();
    }

    [Fact]
    public void WelchOfEqualGroupsIsNotSignificantAndTinyGroupsHaveNoTest()
    {
        var a = Of(3, 4, 5, 3, 4);
        Scoring.Welch(a, Of(3, 4, 5, 3, 4))!.PValue.ShouldBe(1, 1e-9);
        Scoring.Welch(Of(3), a).ShouldBeNull();
    }
}
