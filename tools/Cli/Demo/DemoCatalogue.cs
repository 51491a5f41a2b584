using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Cli.Demo;

/// <summary>An org unit of the demo organisation, with the culture its survey answers show (mean per dimension id, 1..5).</summary>
public sealed record DemoUnitDefinition(string Id, string Name, string ParentId, OrgUnitKind Kind, double Weight, string Location,
    IReadOnlyDictionary<string, double> Culture);

public sealed record DemoDimension(string Id, string Name, string Description, Facet Facet, InteractionScope Scope, double Target,
    IReadOnlyList<DemoItem> Items);

public sealed record DemoItem(string Id, string Text, bool ReverseScored);

public sealed record DemoBehaviour(string Id, string Name, string Description, Polarity Polarity, IReadOnlyList<string> Examples,
    IReadOnlyList<(string DimensionId, double Weight)> Dimensions);

/// <summary>An initiative: its sponsor and change manager are named by their slot in the leadership (see <see cref="DemoOrganisation"/>).</summary>
public sealed record DemoInitiative(string Key, string Name, string Purpose, string SponsorSlot, string ChangeManagerSlot, IReadOnlyList<string> Scope,
    IReadOnlyList<string> Dimensions, IReadOnlyList<string> Behaviours, bool MissesAMilestone, DemoStory? Story);

public sealed record DemoStory(string Title, string Body);

/// <summary>The fixed content of the demo organisation: names, culture profiles, the survey, behaviours, initiatives, stories.</summary>
public static class DemoCatalogue
{
    public const string RootId = "northwind";
    public const string OrganisationName = "Northwind Cooperative";
    public const string EmailDomain = "northwind.example";

    public static IReadOnlyList<DemoUnitDefinition> Units { get; } =
    [
        Unit(RootId, OrganisationName, "", OrgUnitKind.Organisation, 0, "Leeds", 3.5, 3.4, 3.3, 3.6, 3.6, 3.4),
        Unit("operations", "Operations", RootId, OrgUnitKind.Division, 0.22, "Leeds", 2.6, 3.2, 3.0, 2.9, 3.4, 2.8),
        Unit("customer-care", "Customer Care", RootId, OrgUnitKind.Division, 0.20, "Bristol", 3.1, 2.5, 3.3, 3.0, 3.1, 3.3),
        Unit("sales-partnerships", "Sales and Partnerships", RootId, OrgUnitKind.Division, 0.15, "Lisbon", 3.3, 3.6, 2.9, 2.8, 3.0, 3.1),
        Unit("engineering", "Engineering", RootId, OrgUnitKind.Division, 0.16, "Remote", 3.6, 3.0, 2.7, 3.4, 3.2, 2.9),
        Unit("supply-chain", "Supply Chain", RootId, OrgUnitKind.Division, 0.12, "Leeds", 2.8, 2.9, 3.1, 3.2, 3.5, 2.7),
        Unit("finance", "Finance", RootId, OrgUnitKind.Department, 0.07, "Leeds", 3.0, 2.8, 2.8, 2.6, 3.9, 2.9),
        Unit("people-culture", "People and Culture", RootId, OrgUnitKind.Department, 0.08, "Bristol", 3.8, 3.3, 3.6, 3.7, 3.3, 3.9),
    ];

    public static IReadOnlyList<DemoDimension> Dimensions { get; } =
    [
        new("speak-up", "Speaking up", "People raise concerns, bad news and new ideas early, whatever the hierarchy.", Facet.Beliefs,
            InteractionScope.Internal, 3.9,
            [new("speak-up-safe", "I can raise a concern with my manager without worrying about the consequences.", false),
             new("speak-up-silence", "In my team it is wiser to keep bad news to yourself.", true)]),
        new("customer-centricity", "The customer at the centre", "Decisions start from what customers need and what they tell us.",
            Facet.Values, InteractionScope.External, 4.2,
            [new("customer-decisions", "Customer feedback changes what my team does.", false),
             new("customer-process", "We follow the process even when it lets the customer down.", true)]),
        new("collaboration", "Collaboration across units", "Units help each other and share what they know.", Facet.Experiences,
            InteractionScope.Internal, 4.0,
            [new("collaboration-help", "Other units help us when we ask.", false),
             new("collaboration-silos", "Information stays inside teams here.", true)]),
        new("openness", "Openness to stakeholders", "Partners, suppliers and the community are involved early and honestly.", Facet.Attitudes,
            InteractionScope.External, 3.8,
            [new("openness-partners", "We involve partners and suppliers before decisions are made.", false),
             new("openness-community", "We see the community around us as part of our purpose.", false)]),
        new("accountability", "Ownership and accountability", "People keep their commitments and own their mistakes.", Facet.Traditions,
            InteractionScope.Internal, 4.0,
            [new("accountability-commitments", "People here do what they say they will do.", false),
             new("accountability-blame", "When something goes wrong, the first question is who to blame.", true)]),
        new("recognition", "Recognition and appreciation", "Good work is noticed and celebrated, fairly.", Facet.Experiences,
            InteractionScope.Internal, 3.8,
            [new("recognition-noticed", "When I do good work, someone notices.", false),
             new("recognition-fair", "Recognition here goes to the same few people.", true)]),
    ];

    public static IReadOnlyList<DemoBehaviour> Behaviours { get; } =
    [
        Desired("speaks-up-early", "Speaks up early", "Raises risks, concerns and bad news as soon as they are seen, to anyone.",
            ["Flagged the delivery risk in the Monday stand-up before the customer noticed.", "Told the steering group the launch date was unrealistic, with the numbers."],
            ("speak-up", 1.0)),
        Desired("invites-dissent", "Invites dissent", "Asks for opposing views before deciding, and thanks people who give them.",
            ["Asked the quietest person in the room for the strongest objection.", "Ran a pre-mortem on the new rota and changed it."],
            ("speak-up", 0.7), ("openness", 0.3)),
        Desired("owns-mistakes", "Owns and shares mistakes", "Admits mistakes openly so that others can learn from them.",
            ["Wrote up the mis-shipment and what the team changed afterwards.", "Opened the retro with their own error."],
            ("accountability", 0.6), ("speak-up", 0.4)),
        Desired("customer-voice", "Brings the customer's voice", "Brings real customer feedback into decisions.",
            ["Played three customer calls at the start of the planning session.", "Quoted the survey verbatims in the pricing review."],
            ("customer-centricity", 1.0)),
        Desired("closes-the-loop", "Closes the loop with customers", "Goes back to customers to tell them what changed because of them.",
            ["Called the customer back a week later to check the fix held.", "Wrote to every complainant when the policy changed."],
            ("customer-centricity", 0.8), ("accountability", 0.2)),
        Desired("champions-customer", "Champions a customer's cause", "Goes beyond the process to solve a customer's real problem.",
            ["Drove the replacement to the customer's site on a Sunday.", "Escalated a billing error for a small charity and got it refunded the same day."],
            ("customer-centricity", 1.0)),
        Desired("helps-another-team", "Helps another team", "Puts time into another unit's problem without being asked twice.",
            ["Spent two days helping Supply Chain untangle the forecast.", "Lent a tester to Customer Care for the release."],
            ("collaboration", 1.0)),
        Desired("shares-knowledge", "Shares knowledge openly", "Writes down and teaches what they know.",
            ["Published the pricing model with a walkthrough video.", "Ran a lunch-and-learn on the new warehouse system."],
            ("collaboration", 0.6), ("openness", 0.4)),
        Desired("involves-partners", "Involves partners and suppliers early", "Brings partners and suppliers in before decisions are made.",
            ["Invited the courier partner to design the returns process.", "Shared the forecast with suppliers a quarter early."],
            ("openness", 0.8), ("collaboration", 0.2)),
        Desired("engages-community", "Engages the community", "Gives time to the community the cooperative serves.",
            ["Organised the food bank collection at the depot.", "Mentored two apprentices from the local college."],
            ("openness", 0.7), ("recognition", 0.3)),
        Desired("keeps-commitments", "Keeps commitments", "Does what they said, when they said, or says early that they cannot.",
            ["Delivered the audit pack on the promised day.", "Renegotiated a deadline a week ahead instead of missing it."],
            ("accountability", 1.0)),
        Desired("recognises-others", "Recognises others' contributions", "Notices good work and says so, specifically and fairly.",
            ["Credited the night shift by name in the all-hands.", "Nominated a colleague from another unit for their help."],
            ("recognition", 1.0)),
        Desired("experiments-and-learns", "Experiments and learns", "Tries small, safe experiments and shares what they learnt.",
            ["Trialled a four-day picking rota on one aisle and shared the results.", "A/B tested the renewal letter."],
            ("openness", 0.5), ("accountability", 0.5)),
        Desired("acts-as-ambassador", "Acts as an ambassador", "Represents the cooperative's values to customers, partners and the public.",
            ["Spoke at the regional social-enterprise forum.", "Explained the cooperative model to a new partner's board."],
            ("openness", 0.6), ("customer-centricity", 0.4)),
        Unacceptable("blames-others", "Blames others publicly", "Points at people instead of problems, in front of others.",
            ["Blamed the warehouse for a late order in a customer call."], ("speak-up", 0.6), ("collaboration", 0.4)),
        Unacceptable("dismisses-concerns", "Dismisses raised concerns", "Shuts down or ignores someone who raises a concern.",
            ["Told a new starter to stop raising safety points in the briefing."], ("speak-up", 1.0)),
        Unacceptable("hoards-information", "Hoards information", "Keeps information others need to do their job.",
            ["Kept the supplier price change from the planning team for a month."], ("collaboration", 0.7), ("openness", 0.3)),
        Unacceptable("ignores-complaints", "Ignores customer complaints", "Leaves a customer's complaint without an answer.",
            ["Closed a complaint ticket without contacting the customer."], ("customer-centricity", 1.0)),
        Unacceptable("takes-credit", "Takes credit for others' work", "Presents other people's work as their own.",
            ["Presented the team's analysis to the board without naming them."], ("recognition", 0.8), ("accountability", 0.2)),
        Unacceptable("misses-commitments-silently", "Misses commitments silently", "Lets a deadline pass without saying anything.",
            ["Missed the month-end deadline without warning anyone."], ("accountability", 1.0)),
    ];

    public static IReadOnlyList<DemoInitiative> Initiatives { get; } =
    [
        new("speak-up", "Speak Up, Week by Week",
            "Make raising concerns and bad news early the normal way of working in Operations and Supply Chain.",
            "coo", "change-manager-1", ["operations", "supply-chain"], ["speak-up", "accountability"],
            ["speaks-up-early", "invites-dissent", "owns-mistakes", "dismisses-concerns", "blames-others"], false,
            new DemoStory("The night shift that stopped the line",
                "When a picker on the night shift saw mislabelled pallets she stopped the line and called her team lead. The error would " +
                "have reached 300 customers. The team now starts every shift by asking what could go wrong, and the number of concerns " +
                "raised has tripled since the spring.")),
        new("customer-first", "The Customer at the Centre",
            "Bring customers' voices into every decision in Customer Care and Sales, and close the loop with every customer who complains.",
            "cco", "change-manager-2", ["customer-care", "sales-partnerships"], ["customer-centricity"],
            ["customer-voice", "closes-the-loop", "champions-customer", "ignores-complaints"], false,
            new DemoStory("From complaint to champion",
                "A small charity's billing error had bounced between three teams for a month. One adviser took it on, fixed it the same day " +
                "and called back a week later. The charity now refers other members to us, and the team has made call-backs part of " +
                "closing every complaint.")),
        new("one-team", "One Team",
            "Break down silos between Engineering and Finance: help each other, share what you know, keep your commitments.",
            "ceo", "change-manager-3", ["engineering", "finance"], ["collaboration", "accountability"],
            ["helps-another-team", "shares-knowledge", "keeps-commitments", "hoards-information", "misses-commitments-silently"], false, null),
        new("open-doors", "Open Doors",
            "Open the cooperative to partners, suppliers and the community, and recognise the people who make it happen.",
            "coo", "change-manager-4", ["sales-partnerships", "people-culture"], ["openness", "recognition"],
            ["involves-partners", "engages-community", "acts-as-ambassador", "recognises-others", "takes-credit"], true, null),
    ];

    public static IReadOnlyList<string> Locations { get; } = ["Leeds", "Bristol", "Lisbon", "Remote"];

    public static IReadOnlyList<string> TenureBands { get; } = ["under-1-year", "1-3-years", "3-10-years", "over-10-years"];

    public static IReadOnlyList<string> RecognitionMessages { get; } =
    [
        "Thank you, {0}, for stepping in when we were short.",
        "{0} made the handover painless: thank you!",
        "Huge thanks to {0} for sharing the new checklist with everyone.",
        "{0} stayed calm with a difficult customer and turned it round.",
        "Thanks {0} for explaining the numbers so clearly.",
        "{0} noticed the problem before anyone else did. Thank you.",
    ];

    private static DemoUnitDefinition Unit(string id, string name, string parent, OrgUnitKind kind, double weight, string location,
        double speakUp, double customer, double collaboration, double openness, double accountability, double recognition) =>
        new(id, name, parent, kind, weight, location, new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["speak-up"] = speakUp,
            ["customer-centricity"] = customer,
            ["collaboration"] = collaboration,
            ["openness"] = openness,
            ["accountability"] = accountability,
            ["recognition"] = recognition,
        });

    private static DemoBehaviour Desired(string id, string name, string description, string[] examples, params (string, double)[] dimensions) =>
        new(id, name, description, Polarity.Desired, examples, dimensions);

    private static DemoBehaviour Unacceptable(string id, string name, string description, string[] examples, params (string, double)[] dimensions) =>
        new(id, name, description, Polarity.Unacceptable, examples, dimensions);
}
