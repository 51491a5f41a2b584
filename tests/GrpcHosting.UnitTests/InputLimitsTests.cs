using Google.Protobuf.WellKnownTypes;
using Transformation.Testing.Checks.V1;

namespace Transformation.GrpcHosting.UnitTests;

public sealed class InputLimitsTests
{
    private static readonly GrpcHostingOptions Options = new() { MaxStringLength = 20, MaxListItems = 3 };

    private static Dictionary<string, string> Violations(CheckedRequest request) =>
        InputLimits.Violations(request, Options).ToDictionary(v => v.Field, v => v.Description);

    [Fact]
    public void AValidRequestHasNoViolations()
    {
        var request = new CheckedRequest
        {
            Text = new string('x', 20),
            Tags = { "a", "b", "c" },
            Labels = { ["k"] = "v" },
            Items = { new Item { Note = "n", Colour = Colour.Green, Due = Timestamp.FromDateTime(DateTime.UtcNow), Version = 3 } },
            Colour = Colour.Red,
            Colours = { Colour.Unspecified, Colour.Green },
            ColourByName = { ["x"] = Colour.Red },
            At = new Timestamp { Seconds = 253_402_300_799, Nanos = 999_999_999 },
            Lasting = new Duration { Seconds = -5, Nanos = -1 },
            PageSize = 0,
            ExpectedVersion = 7,
            Delta = -4,
            ChosenItem = new Item(),
        };

        Violations(request).ShouldBeEmpty();
        Violations(new CheckedRequest()).ShouldBeEmpty();
    }

    [Fact]
    public void ANulCharacterAnywhereIsAViolationNamingTheField()
    {
        var request = new CheckedRequest
        {
            Text = "a\0b",
            Tags = { "fine", "\0" },
            Labels = { ["ke\0y"] = "v", ["k"] = "v\0" },
            Items = { new Item(), new Item { Note = "x\0" } },
            ChosenText = "\0",
        };

        var violations = Violations(request);

        violations.Keys.ShouldBe(["text", "tags[1]", "labels[ke\0y] (key)", "labels[k]", "items[1].note", "chosen_text"], ignoreOrder: true);
        violations["text"].ShouldBe("A NUL character (U+0000) at position 1; text may not contain one.");
    }

    [Fact]
    public void AnEnumNumberTheEnumDoesNotDefineIsAViolation()
    {
        var request = new CheckedRequest
        {
            Colour = (Colour)7,
            Colours = { Colour.Red, (Colour)(-1) },
            ColourByName = { ["x"] = (Colour)3 },
            Items = { new Item { Colour = (Colour)99 } },
        };

        var violations = Violations(request);

        violations.Keys.ShouldBe(["colour", "colours[1]", "colour_by_name[x]", "items[0].colour"], ignoreOrder: true);
        violations["colour"].ShouldBe("7 is not a Colour value.");
    }

    [Theory]
    [InlineData(-62_135_596_801, 0, "at.seconds")]
    [InlineData(253_402_300_800, 0, "at.seconds")]
    [InlineData(0, -1, "at.nanos")]
    [InlineData(0, 1_000_000_000, "at.nanos")]
    public void ATimestampOutsideItsRangeIsAViolation(long seconds, int nanos, string field) =>
        Violations(new CheckedRequest { At = new Timestamp { Seconds = seconds, Nanos = nanos } }).Keys.ShouldBe([field]);

    [Fact]
    public void ATimestampInsideAListIsChecked() =>
        Violations(new CheckedRequest { Items = { new Item(), new Item { Due = new Timestamp { Seconds = long.MaxValue } } } })
            .Keys.ShouldBe(["items[1].due.seconds"]);

    [Theory]
    [InlineData(315_576_000_001, 0, "lasting.seconds")]
    [InlineData(1, -1, "lasting.nanos")]
    [InlineData(-1, 1, "lasting.nanos")]
    [InlineData(0, 1_000_000_000, "lasting.nanos")]
    public void ADurationOutsideItsRangeIsAViolation(long seconds, int nanos, string field) =>
        Violations(new CheckedRequest { Lasting = new Duration { Seconds = seconds, Nanos = nanos } }).Keys.ShouldBe([field]);

    [Fact]
    public void ANumberThatIsNotFiniteIsAViolationAFiniteOneIsNot()
    {
        var violations = Violations(new CheckedRequest { Score = double.NaN, Weights = { 0.5f, float.PositiveInfinity } });

        violations.Keys.ShouldBe(["score", "weights[1]"], ignoreOrder: true);
        violations["score"].ShouldBe("Not a number or infinite; a finite number is required.");
        Violations(new CheckedRequest { Score = -1e300, Weights = { float.MaxValue } }).ShouldBeEmpty();
    }

    [Fact]
    public void NegativePageSizesLimitsAndVersionsAreViolationsOtherNumbersAreNot()
    {
        var violations = Violations(new CheckedRequest { PageSize = -1, Limit = -5, ExpectedVersion = -1, Delta = -1, Items = { new Item { Version = -2 } } });

        violations.Keys.ShouldBe(["page_size", "expected_version", "limit", "items[0].version"], ignoreOrder: true);
        violations["page_size"].ShouldBe("-1 is negative; 0 or more.");
    }

    [Fact]
    public void StringsAndListsOverTheBoundsAreViolationsEvenInSmallMessages()
    {
        var violations = Violations(new CheckedRequest
        {
            Text = new string('x', 21),
            Tags = { "a", "b", "c", "d" },
            Items = { new Item { Note = new string('y', 30) } },
        });

        violations["text"].ShouldBe("21 characters; at most 20.");
        violations["tags"].ShouldBe("4 entries; at most 3.");
        violations["items[0].note"].ShouldBe("30 characters; at most 20.");
    }

    [Fact]
    public void CheckThrowsInvalidArgumentWithEveryViolation()
    {
        var failure = Should.Throw<RpcException>(() => InputLimits.Check(new CheckedRequest { Text = "\0", Colour = (Colour)5 }, Options));

        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        failure.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["text", "colour"]);
    }
}
