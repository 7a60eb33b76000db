"""Writes the bundled intent data set (examples.csv, labels.csv) in the seed's format.

Run from the repository root: `python trainers/intent_classification/data/make_dataset.py`.
The output is a pure function of this file (fixed seed, ordered templates), so the committed CSVs
can be regenerated and diffed. Templates are written so that intents share vocabulary (book a
flight / book a table / cancel a booking, city names in flights and weather, amounts in balance
and transfer questions): no single word separates an intent from the rest.
"""

import csv
import random
from pathlib import Path

PER_INTENT = 80
SEED = 20240601

# One line per slot kind reads better than one line per value.
# fmt: off
SLOTS: dict[str, list[str]] = {
    "city": ["london", "paris", "tokyo", "new york", "chicago", "berlin", "madrid", "rome",
             "sydney", "toronto", "boston", "seattle", "denver", "miami", "lisbon", "dublin",
             "amsterdam", "seoul", "mexico city", "san francisco"],
    "when": ["today", "tomorrow", "tonight", "this weekend", "on friday", "next monday",
             "next week", "on the 15th", "this evening", "on saturday morning", "in two days",
             "on christmas eve", "sunday afternoon", "the day after tomorrow"],
    "n": ["two", "three", "four", "five", "six", "2", "4", "8"],
    "name": ["sarah", "my mom", "alex", "john smith", "priya", "dad", "maria", "my brother", "kim",
             "my landlord", "the babysitter"],
    "restaurant": ["the blue door", "luigi's", "nobu", "the corner bistro", "golden dragon",
                   "cafe rouge", "the oyster bar", "taj palace", "el toro", "the harbor grill"],
    "cuisine": ["italian", "thai", "mexican", "sushi", "indian", "french", "vegan", "korean bbq",
                "steak", "seafood"],
    "song": ["bohemian rhapsody", "hey jude", "shape of you", "clair de lune", "yesterday",
             "hotel california", "stairway to heaven", "take five", "rolling in the deep",
             "here comes the sun", "fly me to the moon", "purple rain"],
    "song_by": ["bohemian rhapsody by queen", "hey jude by the beatles",
                "shape of you by ed sheeran", "clair de lune by debussy",
                "take five by dave brubeck", "rolling in the deep by adele",
                "purple rain by prince", "fly me to the moon by frank sinatra",
                "here comes the sun by the beatles", "hotel california by the eagles"],
    "artist": ["taylor swift", "the beatles", "miles davis", "adele", "beyonce", "queen", "bach",
               "drake", "coldplay", "nina simone", "bob marley", "ella fitzgerald"],
    "genre": ["jazz", "rock", "classical", "hip hop", "country", "lo-fi", "reggae", "blues", "pop",
              "piano", "eighties"],
    "language": ["spanish", "french", "german", "italian", "japanese", "portuguese", "mandarin",
                 "korean", "dutch", "arabic", "greek"],
    "phrase": ["thank you", "where is the train station", "good morning",
               "i would like a table for two", "my flight is delayed", "how much does this cost",
               "i am allergic to peanuts", "please cancel my order", "what time is it",
               "nice to meet you", "the check please", "is it going to rain",
               "wake me up at seven", "can i pay by card"],
    "foreign": ["gracias", "bonjour", "danke schön", "arigato", "por favor", "ciao",
                "merci beaucoup", "buenas noches", "obrigado", "prego"],
    "word": ["bread", "water", "the bathroom", "a doctor", "the bill", "coffee", "a train ticket",
             "help", "the airport", "a hotel room"],
    "account": ["checking", "savings", "joint", "credit card", "business", "holiday savings"],
    "account2": ["checking", "savings", "joint account", "brokerage account", "emergency fund",
                 "credit card"],
    "amount": ["$50", "200 dollars", "$1,000", "75 euros", "$20", "five hundred dollars", "$12.50",
               "300 pounds", "a hundred bucks", "$2,400"],
    "reason": ["dinner", "rent", "the concert tickets", "groceries", "the taxi", "utilities",
               "the flight", "the hotel"],
    "item": ["shoes", "headphones", "laptop", "book", "new phone", "jacket", "umbrella",
             "coffee maker", "concert tickets", "suitcase"],
    "store": ["amazon", "ikea", "the bookstore", "target", "best buy", "etsy", "the pharmacy",
              "the music shop"],
    "number": ["48213", "A-77120", "9931", "100245", "55-018", "7342"],
    "day": ["tomorrow", "on friday", "next monday", "on saturday", "this sunday", "on the 15th",
            "the day after tomorrow", "next thursday"],
    "past": ["yesterday", "this morning", "on monday", "last week", "today", "two days ago"],
    "wake_time": ["6 am", "6:30 am", "7 am", "7:15", "5:45 am", "8 o'clock", "half past six",
                  "4 am", "quarter to eight", "5 in the morning", "9:30 am"],
    "meal_time": ["noon", "7 pm", "8:30", "half past seven", "9 pm", "1 pm", "6:45", "8 pm"],
    "flight_time": ["6 am", "7:15", "noon", "9 pm", "10:30 pm", "early morning", "red-eye",
                    "afternoon", "last", "first"],
}
# fmt: on
# fmt: on

# Label indices follow list order (1-based), as the seed's data service numbers labels.
INTENTS: dict[str, list[str]] = {
    "book_flight": [
        "book me a flight from {city} to {city2} {when}",
        "i need a plane ticket to {city2} {when}",
        "can you find flights to {city2} leaving {when}",
        "get me on a flight to {city2}",
        "i want to fly from {city} to {city2} {when}",
        "are there any cheap flights to {city2} {when}?",
        "reserve a seat on the {flight_time} flight to {city2}",
        "help me book a round trip to {city2}",
        "look for a one way ticket from {city} to {city2}",
        "i'd like to book airfare to {city2} for {n} people",
        "what flights go to {city2} {when}",
        "please buy me a ticket to fly to {city2} {when}",
        "find me the earliest flight out of {city} {when}",
        "i have to be in {city2} {when}, can you book a flight",
        "book a business class seat to {city2}",
        "any direct flights between {city} and {city2}?",
        "i need to get to {city2} by plane {when}",
    ],
    "cancel_reservation": [
        "cancel my flight to {city2}",
        "i need to cancel my reservation {when}",
        "please cancel the hotel booking in {city2}",
        "i won't make it, cancel my table at {restaurant}",
        "call off my booking {when}",
        "can you cancel the reservation under {name}",
        "get rid of my dinner reservation {when}",
        "i want to cancel my trip to {city2}",
        "drop my hotel room in {city2} {when}",
        "scrap the flight i have {when}",
        "how do i cancel the booking i made {when}?",
        "my plans changed so please cancel the {meal_time} reservation",
        "undo the table booking for {n} at {restaurant}",
        "i no longer need the flight from {city} to {city2}",
        "cancel everything i have booked {day}",
        "we can't come to {restaurant} {when}, please release the table",
    ],
    "restaurant_reservation": [
        "book a table for {n} at {restaurant} {day}",
        "reserve a table at {restaurant} for {meal_time}",
        "can you get me a dinner reservation at {restaurant}",
        "i'd like to make a reservation for {n} people {day}",
        "find a table for two at a good {cuisine} place {day}",
        "is there room at {restaurant} for {n} of us at {meal_time}?",
        "set up a lunch booking at {restaurant} {day}",
        "make a booking at the nearest {cuisine} restaurant",
        "get us a table at {restaurant} {day} at {meal_time}",
        "i want to eat at {restaurant} {day}, can you reserve it",
        "please reserve dinner for {n} at {meal_time}",
        "do they have a table free at {restaurant} {day}?",
        "save us seats at the {cuisine} restaurant downtown for {meal_time}",
        "we'd love some {cuisine} {day}, book somewhere for {n}",
        "i want a table by the window at {restaurant}",
    ],
    "check_weather": [
        "what's the weather like in {city2} {when}",
        "will it rain in {city2} {when}?",
        "do i need an umbrella {when}",
        "how hot will it be in {city2} {when}",
        "what's the forecast for {when}",
        "is it going to snow {when} in {city2}",
        "should i bring a jacket to {city2} {when}",
        "how cold is it outside right now",
        "tell me the temperature in {city2}",
        "is it sunny in {city2} at the moment",
        "will the weather be good for my flight to {city2} {when}",
        "what will the temperature be at {meal_time} {day}",
        "is there a storm coming {when}?",
        "how windy is it in {city2} {when}",
        "will it be warm enough for a picnic {when}",
    ],
    "set_alarm": [
        "set an alarm for {wake_time}",
        "wake me up at {wake_time} {day}",
        "i need an alarm at {wake_time} {day}",
        "please set my alarm to {wake_time}",
        "make sure i'm up by {wake_time} {day}",
        "can you wake me at {wake_time} for my flight",
        "add an alarm for {wake_time} on weekdays",
        "alarm at {wake_time} please",
        "i have to get up at {wake_time} {day}, set something",
        "change my {wake_time} alarm to {wake_time2}",
        "set a wake up call for {wake_time} {day}",
        "i have an early train {day}, get me up at {wake_time}",
        "buzz me at {wake_time} so i don't oversleep",
    ],
    "play_music": [
        "play {song_by}",
        "put on some {genre} music",
        "i want to hear {artist}",
        "can you play something by {artist}",
        "start my {genre} playlist",
        "play the song {song}",
        "shuffle songs by {artist}",
        "turn on some relaxing {genre}",
        "queue up {song} next",
        "let's listen to some {artist} while i cook",
        "play some {language} music",
        "put {song} on repeat",
        "i'm in the mood for {genre}, play something",
        "could you put on {song}?",
    ],
    "translate": [
        "how do you say {phrase} in {language}",
        "translate {phrase} into {language}",
        "what is the {language} for {word}?",
        "what does {foreign} mean in english",
        "how would i say {phrase} to someone in {city2}",
        "can you translate this to {language}: {phrase}",
        "what's the {language} word for {word}",
        "how do i ask for {word} in {language}",
        "tell me how to say {phrase} in {language}",
        "i need the {language} translation of {phrase}",
        "say {phrase} in {language}",
        "what's {foreign} in {language}?",
    ],
    "check_balance": [
        "what's my {account} balance",
        "how much money do i have in {account}",
        "show me the balance on my {account} account",
        "tell me how much is left in my {account} account",
        "do i have enough in {account} to pay {amount} for {reason}?",
        "check my {account} account",
        "what is the current balance of my {account} account",
        "how much can i spend from {account} right now",
        "read me my account balances",
        "how much is in my {account} account today",
        "am i overdrawn on my {account} account?",
        "is there at least {amount} left in {account}",
        "did my paycheck land in {account} yet, what's the total",
    ],
    "transfer_money": [
        "transfer {amount} from {account} to {account2}",
        "send {amount} to {name}",
        "move {amount} into my {account2}",
        "pay {name} {amount} for {reason}",
        "can you wire {amount} to {name} {day}",
        "i want to move money from {account} to {account2}",
        "put {amount} from my {account} account into {account2}",
        "send money to {name} from my {account} account",
        "make a transfer of {amount} to {name}",
        "how do i send {amount} to {name}?",
        "split {reason} with {name} and send them {amount}",
        "schedule a transfer of {amount} to {account2} {day}",
        "pay back {name} for {reason}",
    ],
    "track_package": [
        "where is my package",
        "when will my order from {store} arrive",
        "track my {item} delivery",
        "has my {item} shipped yet?",
        "what's the status of order {number}",
        "is my {item} still arriving {when}",
        "my {item} from {store} hasn't shown up, where is it",
        "give me a tracking update for the {item}",
        "how long until my {store} order gets here",
        "did the {item} get delivered {past}?",
        "is the {item} i bought from {store} out for delivery",
        "check on order {number} from {store}",
        "i ordered the {item} {past}, when does it come",
    ],
}

# A few utterances per intent that follow no template, for phrasing the templates miss.
HANDWRITTEN: dict[str, list[str]] = {
    "book_flight": [
        "i need to fly home for the holidays",
        "get me out of here on the next plane",
        "my sister's wedding is in rome, get me there by friday",
        "what would it cost to fly to lisbon next month",
        "i'd like an aisle seat to denver on tuesday",
        "can i still get on something to chicago tonight",
        "find me the cheapest way to get to tokyo by air",
        "book the same trip to boston i took last time",
        "i want to take my kids to orlando over spring break, flights please",
        "are there seats left on the morning departure to seattle",
        "use my miles to get a ticket to madrid",
        "i need to be at a conference in berlin monday, sort out the travel",
    ],
    "cancel_reservation": [
        "something came up, i can't keep my booking",
        "please cancel my reservation",
        "we're not going on the trip anymore, undo it all",
        "i'm sick, take my name off tonight's dinner list",
        "release the room i was holding for the weekend",
        "i don't need that hotel after all",
        "forget the table i asked for on friday",
        "the conference was postponed so i won't need my plane seat",
        "how can i get a refund and cancel my stay",
        "please remove my booking at the harbor grill",
        "i'd rather not go to lisbon now, cancel it",
        "void the reservation i made yesterday",
    ],
    "restaurant_reservation": [
        "it's our anniversary, find us somewhere nice to eat tonight",
        "can we get a table tonight",
        "i need a spot for a birthday dinner for ten on saturday",
        "somewhere quiet for a business lunch tomorrow please",
        "hold a booth for us at the steakhouse at eight",
        "get my parents and me into that new ramen place",
        "is the patio at cafe rouge available for brunch",
        "we're six hungry people, where can we sit down at seven",
        "sort out dinner for my team next thursday",
        "i want to take my date to a nice french place, can you arrange it",
        "put my name down at luigi's for a late supper",
        "any free tables near the office for lunch",
    ],
    "check_weather": [
        "what's it like outside",
        "is it nice out today",
        "i'm freezing, is it going to warm up at all",
        "should the kids wear boots to school tomorrow",
        "any chance of sunshine for the beach on saturday",
        "how humid is it in miami right now",
        "will my outdoor wedding get rained on next saturday",
        "is it t-shirt weather yet",
        "are the roads going to be icy tonight",
        "do i need sunscreen in sydney this week",
        "what's the high today",
        "is there a heat wave coming",
    ],
    "set_alarm": [
        "i keep sleeping in, set an alarm",
        "don't let me miss my morning meeting",
        "get me up before sunrise tomorrow",
        "i need to be out the door by six, make sure i'm awake",
        "ring at dawn please",
        "set my phone to go off at seven every day",
        "i want a gentle wake up at half six",
        "can you make something beep at 5:30 in the morning",
        "turn on my weekday wake up",
        "i have to catch the 6 am train, set an alarm an hour before",
        "snooze alarms are useless, set a second one ten minutes later",
        "make my alarm louder and set it for seven",
    ],
    "play_music": [
        "i need some music to focus",
        "play that song again",
        "something upbeat for my workout please",
        "i want the album with purple rain on it",
        "put the radio on",
        "can i hear the latest from adele",
        "my kids want the frozen soundtrack",
        "something mellow for dinner",
        "skip this and put on the next track",
        "i'd love to hear some live jazz recordings",
        "blast some rock in the kitchen",
        "play the playlist i made for the road trip",
    ],
    "translate": [
        "what language is bonjour",
        "help me understand this menu in italian",
        "how do the french say good night",
        "my grandma only speaks korean, how do i say i love you",
        "what does the sign that says ausgang mean",
        "in japanese, how would i thank a host",
        "turn this sentence into german for me",
        "i got a text in portuguese, what does it say",
        "is there a spanish word for cozy",
        "what's happy birthday in greek",
        "how do i tell the taxi driver to stop here in arabic",
        "the waiter said prego, what does that mean",
    ],
    "check_balance": [
        "how broke am i right now",
        "what do i have left until payday",
        "can i afford a new laptop with what's in checking",
        "how much cash is in the bank",
        "what's the damage on my credit card this month",
        "did i go into the red",
        "tell me what my savings are up to",
        "what's the available amount on my debit card",
        "how much have i saved so far this year",
        "what's my total across all accounts",
        "is my checking account below a hundred dollars",
        "do i have the money for rent",
    ],
    "transfer_money": [
        "i owe sarah for lunch, send it",
        "top up my savings from checking",
        "cover my share of the rent with maria",
        "i need to pay the plumber back today",
        "shift some cash into my emergency fund",
        "send my son his allowance",
        "reimburse alex for the concert tickets",
        "give dad the money i borrowed",
        "i want to pay my credit card off from checking",
        "can you get 40 dollars to kim before friday",
        "move everything over to the joint account",
        "wire my landlord this month's payment",
    ],
    "track_package": [
        "my parcel is late",
        "any news on my delivery",
        "the courier was supposed to come yesterday, what happened",
        "is the box with my new shoes on a truck yet",
        "which day is my online order showing up",
        "has anything been dropped off at my door",
        "i got a text that my order is delayed, where is it now",
        "find out where the laptop i bought is",
        "has the birthday present i sent been delivered",
        "did my order leave the warehouse",
        "when is the driver coming with my stuff",
        "what's the eta on the suitcase",
    ],
}


def _fill(template: str, rng: random.Random) -> str:
    values = {key: rng.choice(options) for key, options in SLOTS.items()}
    # Second slots of the same kind must differ from the first, or the utterance reads oddly.
    values["city2"] = rng.choice([c for c in SLOTS["city"] if c != values["city"]])
    values["wake_time2"] = rng.choice([t for t in SLOTS["wake_time"] if t != values["wake_time"]])
    values["account2"] = rng.choice([a for a in SLOTS["account2"] if a != values["account"]])
    return template.format(**values)


def generate() -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for intent, templates in INTENTS.items():
        chosen = list(HANDWRITTEN[intent])
        seen.update(chosen)
        attempts = 0
        while len(chosen) < PER_INTENT:
            attempts += 1
            if attempts > PER_INTENT * 200:
                raise RuntimeError(f"{intent}: templates cannot give {PER_INTENT} distinct rows")
            # Round-robin over templates keeps every phrasing represented.
            text = _fill(templates[attempts % len(templates)], rng)
            if text not in seen:
                seen.add(text)
                chosen.append(text)
        rows.extend((text, intent) for text in chosen)
    return rows


def write(directory: Path) -> None:
    label_index = {intent: i for i, intent in enumerate(INTENTS, start=1)}
    rows = generate()
    with (directory / "labels.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerows((str(i), intent) for intent, i in label_index.items())
    with (directory / "examples.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerows((text, str(label_index[intent])) for text, intent in rows)


if __name__ == "__main__":
    write(Path(__file__).resolve().parent)
